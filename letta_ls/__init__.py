"""letta-ls: a language server and CLI for a coding agent whose memory is a git repository of markdown."""

__version__ = "0.1.0"
