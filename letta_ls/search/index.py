"""The agent's search index: one SQLite FTS5 database per agent, a cache of its transcripts and memory.

``agents/<agent-id>/search.sqlite3`` (beside the memory repository, never inside it) holds::

    message_rows / message_fts   one row per past message (conversation, id, role, time, searchable text)
    transcripts                  how many bytes of each transcript are indexed (the next read starts there)
    memory_rows / memory_fts     one row per memory file at the indexed HEAD (path, blob id, description, body)
    state                        key/value: ``memory_head``, the commit the memory rows describe

The transcripts and the git repository stay the truth: everything here can be rebuilt from them, so the
index is thrown away and rebuilt, never repaired, when it is missing, corrupt (``file is not a database``,
``malformed``) or written by another schema version (``PRAGMA user_version``). WAL mode lets the server
and the CLI read while the other writes; a writer takes the lock with ``BEGIN IMMEDIATE`` and waits up to
``BUSY_TIMEOUT`` seconds for it, and every update reads its starting point (bytes indexed, HEAD indexed)
inside its own transaction, so two processes catching up at once never index a message twice.
``synchronous=NORMAL``: a power cut may lose the last transactions, which the next catch-up redoes from
the truth, and a turn's indexing costs no fsync.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger("letta_ls.search")

INDEX_FILE = "search.sqlite3"
SCHEMA_VERSION = 2  # 2: prefix indexes of 3 to 8 letters (1 had 3 to 5)
BUSY_TIMEOUT = 15.0  # seconds a writer waits for another process's transaction
TOKENIZER = "unicode61 remove_diacritics 2"
# prefix indexes: every query word of 3+ letters matches as a prefix. Of a length without its own index, FTS5
# merges the posting lists of every term starting with the word, for every match, before it ranks one: a
# frequent 6-8 letter word cost 5-30x its exact term (docs/benchmarks-search.md). Longer words are rarer.
PREFIXES = "3 4 5 6 7 8"
T = TypeVar("T")

SCHEMA = [statement.strip() for statement in f"""
CREATE TABLE message_rows(id INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, message_id TEXT NOT NULL,
                          role TEXT NOT NULL, created TEXT NOT NULL, text TEXT NOT NULL)

CREATE INDEX message_rows_conversation ON message_rows(conversation_id)

CREATE VIRTUAL TABLE message_fts USING fts5(text, content='message_rows', content_rowid='id',
                                            prefix='{PREFIXES}', tokenize='{TOKENIZER}')

CREATE TRIGGER message_rows_insert AFTER INSERT ON message_rows BEGIN
  INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text);
END

CREATE TRIGGER message_rows_delete AFTER DELETE ON message_rows BEGIN
  INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text);
END

CREATE TABLE transcripts(conversation_id TEXT PRIMARY KEY, indexed_bytes INTEGER NOT NULL)

CREATE TABLE memory_rows(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, blob TEXT NOT NULL,
                         description TEXT NOT NULL, body TEXT NOT NULL, text TEXT NOT NULL)

CREATE VIRTUAL TABLE memory_fts USING fts5(path, description, body, content='memory_rows', content_rowid='id',
                                           prefix='{PREFIXES}', tokenize='{TOKENIZER}')

CREATE TRIGGER memory_rows_insert AFTER INSERT ON memory_rows BEGIN
  INSERT INTO memory_fts(rowid, path, description, body) VALUES (new.id, new.path, new.description, new.body);
END

CREATE TRIGGER memory_rows_delete AFTER DELETE ON memory_rows BEGIN
  INSERT INTO memory_fts(memory_fts, rowid, path, description, body)
  VALUES ('delete', old.id, old.path, old.description, old.body);
END

CREATE TABLE state(key TEXT PRIMARY KEY, value TEXT)

PRAGMA user_version = {SCHEMA_VERSION}
""".split("\n\n") if statement.strip()]


def index_path(agent_dir: Path | str) -> Path:
    """Where an agent's index lives: in its home folder, beside (not inside) the memory repository."""
    return Path(agent_dir) / INDEX_FILE


def fts5_available() -> bool:
    """Whether this Python's SQLite has FTS5 compiled in (CPython's builds do; a stripped one may not)."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    return True


class IndexCorrupt(Exception):
    """The database file is not a usable index; it is thrown away and rebuilt from the truth."""


def _is_busy(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Damage to the file (as opposed to a busy lock or a mistake in our SQL)."""
    if _is_busy(exc):
        return False
    text = str(exc).lower()
    return (not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text
            or "corrupt" in text or "disk i/o" in text or "no such table" in text or "vtable constructor" in text)


class _OpenConnections(threading.local):
    """Each thread's open connections, by index file, with the file's identity when opened. Kept open
    because closing the last connection to a WAL database checkpoints it (an fsync of the whole file),
    which would cost every turn far more than its indexing; reopened when the file was replaced."""

    def __init__(self) -> None:
        self.by_path: OrderedDict[str, tuple[sqlite3.Connection, tuple[int, int]]] = OrderedDict()

    def drop(self, key: str) -> None:
        entry = self.by_path.pop(key, None)
        if entry is not None:
            with contextlib.suppress(sqlite3.Error):
                entry[0].close()


_OPEN = _OpenConnections()
MAX_OPEN_PER_THREAD = 4


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return (found.st_dev, found.st_ino)


class SearchIndex:
    """One agent's index file. Connections are per thread (``_OPEN``), so threads never share one."""

    _rebuild_lock = threading.Lock()

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @classmethod
    def for_agent(cls, agent_dir: Path | str) -> SearchIndex:
        return cls(index_path(agent_dir))

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on an open, current-schema connection. When the file turns out to be damaged (on opening
        or in the middle of ``work``), it is deleted and ``work`` runs once more on a fresh, empty index,
        which ``work`` fills again from the transcripts and git (its catch-up starts from nothing)."""
        try:
            return work(self._connection())
        except (sqlite3.DatabaseError, IndexCorrupt) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _is_corruption(exc):
                raise
            logger.warning("the search index %s is unusable (%s); rebuilding it from the transcripts and git",
                           self.path, exc)
            self.discard()
        return work(self._connection())

    def discard(self) -> None:
        """Delete the index file and its WAL; the next use (in any thread or process) starts an empty one."""
        _OPEN.drop(str(self.path))
        with self._rebuild_lock:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")

    def _connection(self) -> sqlite3.Connection:
        key = str(self.path)
        entry = _OPEN.by_path.get(key)
        if entry is not None and entry[1] == _identity(self.path):
            _OPEN.by_path.move_to_end(key)
            return entry[0]
        _OPEN.drop(key)  # the file was deleted or replaced (another process rebuilt it)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            self._prepare(db)
        except BaseException:
            db.close()
            raise
        identity = _identity(self.path)
        if identity is not None:
            _OPEN.by_path[key] = (db, identity)
            while len(_OPEN.by_path) > MAX_OPEN_PER_THREAD:
                _OPEN.drop(next(iter(_OPEN.by_path)))
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        db.execute("PRAGMA journal_mode=WAL")
        with write_transaction(db):
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:  # another process created it while we waited for the lock
                return
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise IndexCorrupt(f"schema version {version}, this letta-ls writes {SCHEMA_VERSION}")
            for statement in SCHEMA:
                db.execute(statement)


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: the write lock is taken up front (waiting out another process's
    transaction for up to ``BUSY_TIMEOUT``), so what is read inside is still true when it is written."""
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
