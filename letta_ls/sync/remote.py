"""The sync remote: any git URL, checked before use, its credentials kept out of every file, log and message.

API::

    remote = parse_remote(settings.sync.remote)      # Remote, or SyncNotConfigured / BadRemoteError
    remote.display                                   # "https://***@github.com/me/memory.git": safe to show
    git = RemoteGit(repo.path, remote, timeout=120)
    git.fetch_main("refs/letta-sync/<id>/main")      # into a private ref, never a branch; False: no main
    git.push_commit(commit)                          # PushResult: ok / rejected because the remote moved
    git.stop()                                       # any thread: kill what runs, refuse more (SyncStopped)

Accepted: an absolute path (``~`` expanded), ``file://``, ``git://``, ``ssh://`` and ``user@host:path``,
``http://`` and ``https://``. Refused with a message that says what to write instead: relative paths,
remote helpers (``ext::…`` runs commands), other schemes, options in disguise (``-…``), control
characters, and ``${VAR}`` references to variables that are not set.

Credentials are never stored. The URL is handed to each git command only (no ``git remote add``, nothing
in ``.git/config``); a token can stay out of settings too, as ``${VAR}`` expanded from the environment at
sync time (``https://x-access-token:${GITHUB_TOKEN}@github.com/me/memory.git``). The user and token of an
http(s) URL are not even on git's command line (which ``ps`` shows to everyone): they go as an
``Authorization: Basic`` header through git's environment (``GIT_CONFIG_COUNT``), readable by this user
only. When the URL carries credentials, git's credential helpers are switched off for the command so none
of them saves them. Every message that leaves this module (errors, logs, reports) goes through
``Remote.redact``.

Commands never wait for a person: ``GIT_TERMINAL_PROMPT=0``, no askpass program, ssh in batch mode, so
a missing credential fails at once with a message saying how to provide one; each command has a time
limit after which git and everything it started are killed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from letta_ls.memfs.repo_errors import MemoryRepoError

NETWORK_TIMEOUT = 120.0
MAIN = "refs/heads/main"
HOW_TO_SET = ('set "sync": {"remote": "<git URL>"} in settings.json in the letta-ls home, or letta.sync.remote in '
              "the editor's settings; any git URL works: /path/to/memory.git, file://, git://, ssh://, "
              "user@host:path or https:// (put a token in it as ${ENV_VAR}, e.g. "
              "https://x-access-token:${GITHUB_TOKEN}@github.com/me/memory.git)")
RemoteKind = Literal["path", "file", "git", "ssh", "http"]
_SCHEMES: dict[str, RemoteKind] = {"file": "file", "git": "git", "ssh": "ssh", "git+ssh": "ssh", "ssh+git": "ssh",
                                   "http": "http", "https": "http"}
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")
_SCP = re.compile(r"^(?:([^@/:\s]+)@)?([^@/:\s]+):(?!//)(.*)$")
_USERINFO_PASSWORD = re.compile(r"(://[^/\s:@]*):[^/\s@]*@")
_HTTP_USERINFO = re.compile(r"(https?://)[^/\s@]+@", re.IGNORECASE)


class SyncError(MemoryRepoError):
    """Sync could not be done; memory is unchanged unless the message says otherwise. Never holds a credential."""


class SyncNotConfigured(SyncError):
    """No ``sync.remote`` is set."""


class BadRemoteError(SyncError):
    """``sync.remote`` is not a URL sync can use; the message says what to write instead."""


class RemoteUnreachableError(SyncError):
    """The remote's host could not be reached (name, network, refused connection)."""


class RemoteNotFoundError(SyncError):
    """The host answered, but there is no git repository at that path."""


class RemoteAuthError(SyncError):
    """The remote wants credentials that were missing or refused."""


class RemoteTimeoutError(SyncError):
    """The remote did not finish in time; git was stopped."""


class SyncStopped(SyncError):
    """``RemoteGit.stop()`` ended the command (the sync was cancelled, e.g. the editor closed)."""


@dataclass(frozen=True)
class Remote:
    """A checked remote. ``url`` (with any credentials) goes to git only; show ``display``."""

    url: str = field(repr=False)
    display: str
    kind: RemoteKind
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # for http(s) with credentials: the URL git is given on its command line (visible to `ps`) carries none;
    # they travel as an Authorization header in git's environment, readable only by this user
    command_url: str | None = field(default=None, repr=False)
    auth_header: str | None = field(default=None, repr=False)

    @property
    def has_credentials(self) -> bool:
        return bool(self.secrets)

    def redact(self, text: str) -> str:
        """``text`` with this remote's credentials (and any URL's password) replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return redact_urls(text)

    def __str__(self) -> str:
        return self.display


def redact_urls(text: str) -> str:
    """Hide the password of any URL in ``text``, and the whole userinfo of http(s) URLs (tokens sit there)."""
    text = _USERINFO_PASSWORD.sub(r"\1:***@", text)
    return _HTTP_USERINFO.sub(r"\1***@", text)


def parse_remote(value: object, env: Mapping[str, str] | None = None) -> Remote:
    """Check ``sync.remote`` and expand its ``${VAR}`` references; raises ``SyncNotConfigured`` or
    ``BadRemoteError`` (whose messages never hold a credential)."""
    environ = os.environ if env is None else env
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SyncNotConfigured(f"no sync remote is configured: {HOW_TO_SET}")
    if not isinstance(value, str):
        raise BadRemoteError(f"sync.remote must be a git URL (text), not {type(value).__name__}: {HOW_TO_SET}")
    raw = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise BadRemoteError("sync.remote holds a control character (a line break?): give one git URL on one line")
    missing = [name for name in _ENV_REFERENCE.findall(raw) if not environ.get(name)]
    if missing:
        raise BadRemoteError(f"sync.remote refers to ${{{missing[0]}}}, which is not set in the environment: set "
                             f"{missing[0]} for letta-ls (the editor or the shell that starts it), or write the URL "
                             "without it")
    url = _ENV_REFERENCE.sub(lambda m: environ[m.group(1)], raw)
    shown = redact_urls(_ENV_REFERENCE.sub(lambda m: "***", raw))
    if url.startswith("-"):
        raise BadRemoteError(f"sync.remote {shown!r} starts with '-', which git would read as an option: "
                             "give a URL or an absolute path")
    helper = _HELPER.match(url)
    if helper:
        raise BadRemoteError(f"sync.remote uses the remote helper {helper.group(1)}::, which letta-ls does not run "
                             "(helpers can run arbitrary commands): give a path, file://, git://, ssh:// or https:// "
                             "URL")
    scheme = _SCHEME.match(url)
    if scheme:
        return _url_remote(url, scheme.group(1).lower(), shown)
    if url.startswith(("/", "~")):
        path = os.path.expanduser(url)
        if not os.path.isabs(path):
            raise BadRemoteError(f"sync.remote {shown!r} is not an absolute path: write it in full")
        return Remote(path, path, "path")
    scp = _SCP.match(url)
    if scp and "\\" not in url and scp.group(3):
        return Remote(url, shown, "ssh")
    raise BadRemoteError(f"sync.remote {shown!r} is neither an absolute path nor a git URL (a relative path would "
                         f"depend on where letta-ls runs): {HOW_TO_SET}")


def _url_remote(url: str, scheme: str, shown: str) -> Remote:
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise BadRemoteError(f"sync.remote uses {scheme}://, which git cannot sync over: use file://, git://, "
                             "ssh:// or https:// (or a path, or user@host:path)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise BadRemoteError(f"sync.remote {shown!r} is not a valid URL ({exc})") from None
    if kind == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise BadRemoteError(f"sync.remote {shown!r}: a file:// URL needs an absolute path, "
                                 "like file:///home/me/memory.git")
        return Remote(url, shown, "file")
    if not parts.hostname:
        raise BadRemoteError(f"sync.remote {shown!r} names no host: write it like {scheme}://host/path/memory.git")
    if not parts.path.strip("/"):
        raise BadRemoteError(f"sync.remote {shown!r} names no repository on {parts.hostname}: add its path, "
                             f"like {scheme}://{parts.hostname}/me/memory.git")
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    user, has_password, password = userinfo.partition(":")
    secrets: list[str] = []
    if has_password and password:
        secrets += [password, unquote(password)]
    if kind == "http" and user:
        secrets += [user, unquote(user)]  # tokens are often given as the user name
    secrets = [s for s in dict.fromkeys(secrets) if len(s) >= 3]
    command_url = header = None
    if kind == "http" and userinfo:
        command_url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        basic = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        header = f"Authorization: Basic {basic}"
        secrets.append(basic)
    return Remote(url, shown, kind, tuple(sorted(secrets, key=len, reverse=True)), command_url, header)


# ---------------------------------------------------------------------------------------------- running git
@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str  # redacted
    stderr: str  # redacted


@dataclass(frozen=True)
class PushResult:
    ok: bool
    remote_moved: bool  # rejected because the remote has commits we lack: fetch, merge, try again
    detail: str  # git's words, redacted


_AUTH = ("authentication failed", "could not read username", "could not read password", "terminal prompts disabled",
         "permission denied (publickey", "access denied", "invalid credentials", "returned error: 401",
         "returned error: 403", "host key verification failed", "invalid username or password",
         "permission denied, please try again")
_NOT_FOUND = ("does not appear to be a git repository", "repository not found", "no such repository",
              "returned error: 404", "not exported", "not a git repository", "no such file or directory")
_UNREACHABLE = ("could not resolve host", "connection refused", "unable to connect", "network is unreachable",
                "failed to connect", "unable to look up", "connection timed out", "no route to host",
                "could not resolve hostname", "name or service not known", "connection reset", "the remote end hung up")


class RemoteGit:
    """git commands against one remote, run from the memory repository at ``cwd``."""

    def __init__(self, cwd: Path, remote: Remote, *, timeout: float = NETWORK_TIMEOUT) -> None:
        self.cwd = Path(cwd)
        self.remote = remote
        self.timeout = timeout
        self._running: set[subprocess.Popen] = set()
        self._guard = threading.Lock()
        self._stopped = False

    def stop(self) -> None:
        """Kill the git commands running now and refuse new ones (any thread). A command waiting on the network
        runs in a thread that cancelling its task cannot stop; the process would then wait for it to exit."""
        with self._guard:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            _signal_group(proc)

    @property
    def _url(self) -> str:
        return self.remote.command_url or self.remote.url

    def fetch_main(self, into: str) -> bool:
        """Fetch the remote's main into the private ref ``into`` (no branch, no FETCH_HEAD, no tags); False
        when the remote has no main (an empty repository), leaving ``into`` alone."""
        result = self._run(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                            "--no-auto-maintenance", "--", self._url, f"+{MAIN}:{into}"])
        if result.returncode == 0:
            return True
        if "couldn't find remote ref" in result.stderr.lower():
            return False
        raise self._failure("fetch", "fetching from", result)

    def push_commit(self, commit: str) -> PushResult:
        """Push ``commit`` to the remote's main, fast-forward only (never ``--force``)."""
        result = self._run(["push", "--porcelain", "--no-verify", "--", self._url, f"{commit}:{MAIN}"])
        for line in result.stdout.splitlines():
            flag, _, rest = line.partition("\t")
            if not rest.split("\t", 1)[0].endswith(f":{MAIN}"):
                continue
            summary = rest.split("\t", 1)[1] if "\t" in rest else ""
            if flag in (" ", "*", "+", "="):
                return PushResult(True, False, summary)
            if flag == "!":
                if _remote_moved(summary, result.stderr):
                    return PushResult(False, True, summary)
                raise SyncError(f"{self.remote.display} refused the push of main: {summary.strip()} "
                                f"{_last_lines(result.stderr)}".strip())
        if result.returncode == 0:
            return PushResult(True, False, "")
        raise self._failure("push", "pushing to", result)

    # ------------------------------------------------------------------ plumbing
    def _failure(self, what: str, doing: str, result: GitResult) -> SyncError:
        text = result.stderr.lower()
        detail = _last_lines(result.stderr)
        where = self.remote.display
        if any(p in text for p in _AUTH):
            how = ("the token in sync.remote (a ${ENV_VAR} reference keeps it out of settings)"
                   if self.remote.kind == "http" else "an ssh key loaded in ssh-agent (letta-ls never prompts)"
                   if self.remote.kind == "ssh" else "credentials for this remote")
            refused = ("refused the credentials it was given" if self.remote.has_credentials
                       else "asked for credentials and letta-ls has none to give")
            return RemoteAuthError(f"{where} {refused}; provide {how}. Memory is unchanged. git said: {detail}")
        if any(p in text for p in _NOT_FOUND):
            hint = (f" (create an empty one with `git init --bare {where}`)" if self.remote.kind in ("path", "file")
                    else " (create an empty repository there, or check the path)")
            return RemoteNotFoundError(f"there is no git repository at {where}{hint}; memory is unchanged. "
                                       f"git said: {detail}")
        if any(p in text for p in _UNREACHABLE):
            return RemoteUnreachableError(f"could not reach {where} while {doing} it: check the address and the "
                                          f"network, then sync again; memory is unchanged. git said: {detail}")
        return SyncError(f"git {what} with {where} failed: {detail or f'exit code {result.returncode}'}")

    def _run(self, args: Sequence[str]) -> GitResult:
        config = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "core.askPass=",
                  "-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never",
                  "-c", "http.lowSpeedLimit=1000", "-c", f"http.lowSpeedTime={max(1, int(min(self.timeout, 60)))}",
                  "-c", "gc.auto=0", "-c", "maintenance.auto=false"]
        if self.remote.has_credentials:
            config += ["-c", "credential.helper="]  # no helper may store what the URL carries
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C", "LANG": "C"}
        # no prompt program; no trace that could write the URL (and its token) to a file
        for name in ("GIT_ASKPASS", "SSH_ASKPASS", "GIT_TRACE", "GIT_TRACE_CURL", "GIT_TRACE_PACKET",
                     "GIT_CURL_VERBOSE"):
            env.pop(name, None)
        if self.remote.auth_header:
            index = int(env.get("GIT_CONFIG_COUNT") or 0)
            env.update({"GIT_CONFIG_COUNT": str(index + 1), f"GIT_CONFIG_KEY_{index}": "http.extraHeader",
                        f"GIT_CONFIG_VALUE_{index}": self.remote.auth_header})
        if self.remote.kind == "ssh" and not (env.get("GIT_SSH_COMMAND") or env.get("GIT_SSH")) \
                and not self._configured("core.sshCommand"):
            env["GIT_SSH_COMMAND"] = f"ssh -o BatchMode=yes -o ConnectTimeout={max(1, int(min(self.timeout, 30)))}"
        with self._guard:
            if self._stopped:
                raise SyncStopped("the sync was stopped")
            try:
                proc = subprocess.Popen(["git", *config, *args], cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            except OSError as exc:
                raise SyncError(f"could not run git: {exc}; install git and make sure it is on PATH") from None
            self._running.add(proc)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RemoteTimeoutError(f"{self.remote.display} did not answer within {self.timeout:g} s; git was "
                                     "stopped and memory is unchanged: check the network and sync again") from None
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            with self._guard:
                self._running.discard(proc)
        if self._stopped:
            raise SyncStopped(f"the sync with {self.remote.display} was stopped while git was running")
        redact = self.remote.redact
        return GitResult(proc.returncode, redact(out.decode("utf-8", "replace")),
                         redact(err.decode("utf-8", "replace")))

    def _configured(self, key: str) -> bool:
        try:
            out = subprocess.run(["git", "config", "--get", key], cwd=self.cwd, capture_output=True, timeout=10,
                                 check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return bool(out.stdout.strip())


def _remote_moved(summary: str, stderr: str) -> bool:
    """Whether a refused push means only that the remote's main moved after our fetch (fetch, merge, retry).

    Our git refuses a push that is not a fast-forward of what it just saw (``[rejected] (fetch first)``); but
    when another machine pushes at the same moment, both see the old main, and the remote's receive-pack
    refuses the loser while it updates the ref: ``[remote rejected] (failed to update ref)`` with ``cannot
    lock ref 'refs/heads/main': is at X but expected Y`` (or ``… main.lock': File exists`` while the winner
    still holds the ref's lock) on stderr. Both are the same race, lost."""
    if "[rejected]" in summary:
        return any(word in summary for word in ("fetch first", "non-fast-forward", "stale info"))
    if "[remote rejected]" in summary:
        said = f"{summary}\n{stderr}".lower()
        return f"cannot lock ref '{MAIN}'" in said and any(why in said for why in ("but expected", "file exists",
                                                                                  "reference already exists"))
    return False


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop git and the helpers it started (ssh, git-remote-https), then reap it."""
    _signal_group(proc)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)


def _signal_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform == "win32":  # no process groups (nor SIGKILL): git's helpers end with their pipes
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("hint:")]
    return " ".join(lines[-count:])
