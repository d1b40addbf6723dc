"""Memory sync through any git remote (``memory_sync``) and the remote's URLs and credentials (``remote``).
Core code: no LSP."""
