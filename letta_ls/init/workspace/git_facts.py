"""Facts from a folder's git repository: remotes, branches, recent history, authors, the user's identity.

/init infers who the user is from git rather than asking (Letta Code's initializing-memory skill does
the same with ``git shortlog -sn``): their configured name and email, how many of the commits are theirs,
and whether they are the main author. Commands run through GitPython's git CLI wrapper with a timeout,
never prompt, and never fail the inspection: a folder that is not a repository gives None, an empty
repository gives what it has. Credentials in remote URLs (``https://user:token@host``) are removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import git

from letta_ls.init.workspace.model import AuthorCount, Commit, GitFacts
from letta_ls.subagents.text import redact

_TIMEOUT = 15
_CONVENTIONAL = re.compile(r"^[a-z]+(?:\([^)]*\))?!?: \S")
_SHORTLOG = re.compile(r"^\s*(\d+)\s+(.*?)\s*<([^>]*)>\s*$")
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.I)


def strip_credentials(url: str) -> str:
    """``https://user:token@github.com/a/b`` → ``https://github.com/a/b`` (scp-style ``git@host:`` is kept)."""
    return _URL_USERINFO.sub(r"\1", url.strip())


def git_facts(folder: Path, *, max_commits: int = 15, max_authors: int = 10) -> GitFacts | None:
    """What git knows about ``folder`` (or the repository it is inside), or None outside a repository."""
    try:
        repo = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    except git.GitError:
        return None
    with repo:
        return _collect(repo, max_commits, max_authors)


def _collect(repo: git.Repo, max_commits: int, max_authors: int) -> GitFacts:
    def run(*args: str) -> str | None:
        try:
            out = repo.git.execute(["git", "-c", "log.showSignature=false", *args], kill_after_timeout=_TIMEOUT,
                                   env={"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"})
        except (git.GitCommandError, OSError, ValueError):
            return None
        return out if isinstance(out, str) else None

    remotes = {}
    for line in (run("config", "--get-regexp", r"^remote\..*\.url$") or "").splitlines():
        key, _, url = line.partition(" ")
        name = key.removeprefix("remote.").removesuffix(".url")
        if url:
            remotes[name] = redact(strip_credentials(url))
    current = run("rev-parse", "--abbrev-ref", "HEAD")
    current = None if current in (None, "HEAD") else current
    default = (run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD") or "").removeprefix("origin/")
    if not default:
        default = next((b for b in ("main", "master", "trunk", "develop")
                        if run("rev-parse", "--verify", "--quiet", f"refs/heads/{b}")), current or "")
    count = run("rev-list", "--count", "HEAD")
    roots = (run("log", "--max-parents=0", "--format=%ad", "--date=short", "HEAD") or "").splitlines()
    recent = []
    for line in (run("log", f"-n{max_commits}", "--format=%h%x1f%ad%x1f%an%x1f%s", "--date=short", "HEAD")
                 or "").splitlines():
        parts = line.split("\x1f")
        if len(parts) == 4:
            recent.append(Commit(parts[0], parts[1], parts[2], redact(parts[3])[:200]))
    authors = []
    for line in (run("shortlog", "-sne", "HEAD") or "").splitlines():
        match = _SHORTLOG.match(line)
        if match:
            authors.append(AuthorCount(match.group(2), match.group(3), int(match.group(1))))
    authors.sort(key=lambda a: (-a.commits, a.name))
    name = run("config", "user.name") or None
    email = run("config", "user.email") or None
    mine = sum(a.commits for a in authors if (email and a.email.lower() == email.lower())
               or (name and a.name == name))
    subjects = [c.subject for c in recent]
    conventional = len(subjects) >= 3 and sum(bool(_CONVENTIONAL.match(s)) for s in subjects) >= 0.6 * len(subjects)
    return GitFacts(
        root=str(repo.working_tree_dir or repo.git_dir), remotes=remotes, current_branch=current,
        default_branch=default or None, total_commits=int(count) if count and count.isdigit() else 0,
        first_commit=min(roots) if roots else None, recent=tuple(recent), authors=tuple(authors[:max_authors]),
        user_name=name, user_email=email, user_commits=mine, conventional_commits=conventional,
    )
