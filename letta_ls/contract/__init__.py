"""The typed contract between letta-ls and the editors (SPEC sections 6 and 7), one module per area.

Every custom request's params and result, every command's argument and result and every notification's params
is an attrs class here, structured and unstructured by one cattrs converter (``wire``: camelCase on the wire).
Errors carry a stable ``data.kind`` (``errors.ErrorKind``). Nothing here imports pygls, so the CLI can use it;
``letta_ls.server.typed`` binds it to the language server. The editors mirror it: ``editors/vscode/src/
protocol.ts`` and ``editors/nvim/lua/letta/api.lua``.
"""

from letta_ls.contract.errors import ContractError, ErrorKind, fail
from letta_ls.contract.methods import BEYOND_SPEC, METHODS, Method
from letta_ls.contract.wire import ParamsError, structure, unstructure

__all__ = ["BEYOND_SPEC", "METHODS", "ContractError", "ErrorKind", "Method", "ParamsError", "fail", "structure",
           "unstructure"]
