"""The exact token counter loads in a fraction of a second of CPU, with the same counts (issue 14).

``import bpe_openai`` parses three whole BPE rank tables in Python (``bpe_openai.compat``: ~0.9 s of CPU
holding the GIL in bursts) although letta-ls only uses the Rust backend, which carries its own tables. In
the language server that load ran in a worker thread right after ``initialize``, and the reads and saves of
the first seconds (the busy phase of ``bench/scale.py --only lsp``) shared the GIL with it: their p99 at
1,000 files was 14-17 ms against 4-6 ms with the tokenizer already loaded. A fresh interpreter measures
the load's CPU time, then checks its counts against the package's public encoding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, time

start = time.process_time()
from letta_ls.memfs.tokens import get_token_counter

imported = time.process_time()
counter = get_token_counter()
loaded = time.process_time()

import bpe_openai

public = bpe_openai.get_encoding("o200k_base")
texts = ["", "hello world", "Settlement runs every night at 02:00 UTC.", "naïve café — 東京 🚀 " * 40,
         "def f(x):\n    return x ** 2\n" * 30, "\x00\x01 odd bytes \uffff"]
print(json.dumps({"exact": counter.exact, "load_cpu_s": loaded - imported,
                  "same": [counter.count(t) == len(public.encode(t, disallowed_special=())) for t in texts]}))
"""


@pytest.mark.timeout(60)
def test_the_exact_counter_loads_in_a_fraction_of_the_cpu_and_counts_as_the_package_does(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=50,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["exact"] is True
    assert all(found["same"]), found
    assert found["load_cpu_s"] < 0.4, f"loading the tokenizer took {found['load_cpu_s']:.2f} s of CPU"
