"""``letta-ls serve`` freezes its start-up heap, so a full garbage collection does not walk it (issue 14).

The server's imports (pygls, lsprotocol's hundreds of classes, cattrs' generated functions, the doctor)
leave ~77,000 objects that live as long as the process. Each full (generation 2) collection walked them
all: ~30 ms holding the GIL on an idle machine, on top of whatever the memory added (90-120 ms with a
10,000-file memory), at any moment, with every read and save waiting. ``gc.freeze()`` once the server is
built moves them out of the collector's sight. A fresh interpreter runs the real ``letta-ls serve`` entry
point up to the moment it starts serving, where a spy records what the collector would still walk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import gc, json, sys, time

import letta_ls.server.transport as transport
from letta_ls.cli import main


def spy_serve(server):
    started = time.perf_counter()
    gc.collect()
    print(json.dumps({"frozen": gc.get_freeze_count(), "full_collection_ms": (time.perf_counter() - started) * 1000}))
    return 0


transport.serve_stdio = spy_serve
sys.exit(main(["--home", sys.argv[1], "serve"]))
"""


@pytest.mark.timeout(60)
def test_the_served_process_has_frozen_its_start_up_heap_before_it_serves(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "home")], capture_output=True, text=True,
                         timeout=50, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["frozen"] > 20_000, f"only {found['frozen']} objects frozen before serving"
