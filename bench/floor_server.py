"""The floor for a language-server round trip: a bare pygls 2 server and nothing else.

It answers ``workspace/textDocumentContent`` from a dict ``{uri: text}`` loaded from a JSON file once at
start, so a request costs only what pygls, lsprotocol and the JSON-RPC framing cost. ``bench/server.py``
drives it and letta-ls over stdio with the same client in the same run: letta-ls's figure over this one is
letta-ls's own cost per request. Its ``initialize`` time is the floor for start-up.

    python bench/floor_server.py TEXTS.json
"""

from __future__ import annotations

import json
import sys

from lsprotocol import types
from pygls.lsp.server import LanguageServer


def build(texts: dict[str, str]) -> LanguageServer:
    server = LanguageServer("bench-floor", "0")

    @server.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT)
    def text_document_content(ls: LanguageServer, params: types.TextDocumentContentParams):
        return types.TextDocumentContentResult(text=texts[params.uri])

    return server


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        texts = json.load(handle)
    build(texts).start_io()


if __name__ == "__main__":
    main()
