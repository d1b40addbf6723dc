"""Build, task-runner and CI files, and what they run.

The commands a project's own CI runs are the most reliable answer to "how do I test this?", and the
targets of its Makefile or justfile are the entry points its developers use. Each parser here pulls out
targets (make targets, recipes, jobs, environments, sessions, base images) and the shell commands, at
most ``MAX_COMMANDS`` per file, each clipped. YAML is read with PyYAML's safe loader; a file that does
not parse still counts as present.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from letta_ls.init.workspace.files import FolderReader
from letta_ls.init.workspace.model import BuildFile
from letta_ls.subagents.errors import DATA_ERRORS

MAX_COMMANDS = 40
MAX_TARGETS = 40
_MAKE_TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.%/-]*)\s*:(?![=:])", re.M)
_JUST_RECIPE = re.compile(r"^@?([A-Za-z_][\w-]*)(?:\s+[^:=\n]*)?:(?!=)", re.M)
_JUST_KEYWORDS = frozenset({"set", "alias", "export", "import", "mod"})
_KEY_TARGETS = ("test", "tests", "check", "lint", "fmt", "format", "build", "install", "setup", "dev", "run",
                "serve", "ci", "all", "typecheck", "bench")
_GITLAB_RESERVED = frozenset({"stages", "variables", "default", "include", "workflow", "image", "services", "cache",
                              "before_script", "after_script", "types", "pages"})

try:  # libyaml is an optional part of PyYAML wheels
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the wheel
    _Loader = yaml.SafeLoader


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a safe loader: plain data, no objects
    except (yaml.YAMLError, RecursionError):
        return None


def _lines(value: Any) -> list[str]:
    """Shell lines from a ``run:`` / ``script:`` value: a string (maybe multi-line) or a list of them."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("command") or item.get("run") or item.get("script")
        if isinstance(item, str):
            out += [line.strip() for line in item.splitlines() if line.strip() and not line.strip().startswith("#")]
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _bounded(items: Iterable[str], limit: int) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        item = " ".join(item.split())[:200]
        if item and item not in out:
            out.append(item)
        if len(out) >= limit:
            break
    return tuple(out)


def parse_makefile(path: str, text: str) -> BuildFile:
    targets = [t for t in _MAKE_TARGET.findall(text) if not t.startswith(".") and "%" not in t and "/" not in t]
    commands = []
    for target in _KEY_TARGETS:
        recipe = re.search(rf"^{re.escape(target)}\s*:[^=\n]*\n((?:\t.*\n?)+)", text, re.M)
        if recipe:
            joined = re.sub(r"\\\n\t?\s*", " ", recipe.group(1))  # continuation lines are one command
            lines = [line.strip().lstrip("@-").strip() for line in joined.splitlines()]
            commands += [f"{target}: {line}" for line in lines[:3] if line]
    return BuildFile(path, "make", targets=_bounded(targets, MAX_TARGETS), commands=_bounded(commands, MAX_COMMANDS))


def parse_justfile(path: str, text: str) -> BuildFile:
    recipes = [r for r in _JUST_RECIPE.findall(text) if r not in _JUST_KEYWORDS]
    commands = []
    for recipe in recipes:
        if recipe in _KEY_TARGETS:
            body = re.search(rf"^@?{re.escape(recipe)}\b[^\n]*:\s*\n((?:[ \t]+.*\n?)+)", text, re.M)
            if body:
                commands += [f"{recipe}: {line.strip().lstrip('@')}" for line in body.group(1).splitlines()[:3]
                             if line.strip()]
    return BuildFile(path, "just", targets=_bounded(recipes, MAX_TARGETS), commands=_bounded(commands, MAX_COMMANDS))


def parse_taskfile(path: str, text: str) -> BuildFile:
    data = _yaml(text)
    tasks = data.get("tasks") if isinstance(data, dict) and isinstance(data.get("tasks"), dict) else {}
    commands = []
    for name, task in list(tasks.items())[:MAX_TARGETS]:
        if isinstance(task, dict):
            commands += [f"{name}: {line}" for line in _lines(task.get("cmds"))[:3]]
    return BuildFile(path, "task", targets=_bounded(map(str, tasks), MAX_TARGETS),
                     commands=_bounded(commands, MAX_COMMANDS))


def parse_github_workflow(path: str, text: str) -> BuildFile:
    data = _yaml(text)
    if not isinstance(data, dict):
        return BuildFile(path, "github-actions")
    on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    triggers = list(on) if isinstance(on, dict) else on if isinstance(on, list) else [on] if isinstance(on, str) else []
    jobs = data.get("jobs") if isinstance(data.get("jobs"), dict) else {}
    commands: list[str] = []
    for job in jobs.values():
        for step in _list(_get(job, "steps")):
            if isinstance(step, dict) and "run" in step:
                commands += _lines(step["run"])
            if len(commands) >= MAX_COMMANDS:
                break
    names = [str(job.get("name") or key) if isinstance(job, dict) else str(key) for key, job in jobs.items()]
    return BuildFile(path, "github-actions", name=str(data["name"]) if data.get("name") else None,
                     targets=_bounded(names, MAX_TARGETS), commands=_bounded(commands, MAX_COMMANDS),
                     triggers=_bounded(map(str, triggers), 10))


def parse_gitlab(path: str, text: str) -> BuildFile:
    data = _yaml(text)
    if not isinstance(data, dict):
        return BuildFile(path, "gitlab-ci")
    jobs = {k: v for k, v in data.items() if isinstance(k, str) and not k.startswith(".")
            and k not in _GITLAB_RESERVED and isinstance(v, dict)}
    commands = [line for job in jobs.values() for key in ("before_script", "script") for line in _lines(job.get(key))]
    return BuildFile(path, "gitlab-ci", targets=_bounded(jobs, MAX_TARGETS), commands=_bounded(commands, MAX_COMMANDS))


def parse_circleci(path: str, text: str) -> BuildFile:
    data = _yaml(text)
    jobs = data.get("jobs") if isinstance(data, dict) and isinstance(data.get("jobs"), dict) else {}
    commands = []
    for job in jobs.values():
        for step in _list(_get(job, "steps")):
            if isinstance(step, dict) and "run" in step:
                commands += _lines(step["run"])
    return BuildFile(path, "circleci", targets=_bounded(jobs, MAX_TARGETS), commands=_bounded(commands, MAX_COMMANDS))


def parse_simple_ci(kind: str, keys: tuple[str, ...]) -> Callable[[str, str], BuildFile]:
    def parse(path: str, text: str) -> BuildFile:
        data = _yaml(text)
        commands = []
        if isinstance(data, dict):
            for key in keys:
                commands += _lines(data.get(key))
            for step in _list(data.get("steps")):
                if isinstance(step, dict):
                    commands += _lines(step.get("script") or step.get("bash"))
        return BuildFile(path, kind, commands=_bounded(commands, MAX_COMMANDS))

    return parse


def parse_jenkinsfile(path: str, text: str) -> BuildFile:
    stages = re.findall(r"""stage\s*\(\s*['"]([^'"]+)['"]""", text)
    commands = re.findall(r"""\bsh\s*\(?\s*(?:script:\s*)?['"]([^'"\n]+)['"]""", text)
    return BuildFile(path, "jenkins", targets=_bounded(stages, MAX_TARGETS), commands=_bounded(commands, MAX_COMMANDS))


def parse_dockerfile(path: str, text: str) -> BuildFile:
    images = re.findall(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", text, re.M | re.I)
    return BuildFile(path, "docker", targets=_bounded(images, 10))


def parse_compose(path: str, text: str) -> BuildFile:
    data = _yaml(text)
    services = data.get("services") if isinstance(data, dict) and isinstance(data.get("services"), dict) else {}
    return BuildFile(path, "compose", targets=_bounded(map(str, services), MAX_TARGETS))


def parse_tox(path: str, text: str) -> BuildFile:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return BuildFile(path, "tox")
    envs = re.split(r"[\s,]+", parser.get("tox", "envlist", fallback="").strip())
    commands = parser.get("testenv", "commands", fallback="").splitlines()
    return BuildFile(path, "tox", targets=_bounded((e for e in envs if e), MAX_TARGETS),
                     commands=_bounded(commands, MAX_COMMANDS))


def parse_noxfile(path: str, text: str) -> BuildFile:
    sessions = re.findall(r"@nox\.session[^\n]*\n(?:@[^\n]*\n)*def\s+(\w+)", text)
    return BuildFile(path, "nox", targets=_bounded(sessions, MAX_TARGETS))


def parse_pre_commit(path: str, text: str) -> BuildFile:
    data = _yaml(text)
    hooks = []
    for repo in _list(_get(data, "repos")):
        for hook in _list(_get(repo, "hooks")):
            if isinstance(hook, dict) and hook.get("id"):
                hooks.append(str(hook["id"]))
    return BuildFile(path, "pre-commit", targets=_bounded(hooks, MAX_TARGETS))


def parse_procfile(path: str, text: str) -> BuildFile:
    entries = re.findall(r"^([\w-]+):\s*(.+)$", text, re.M)
    return BuildFile(path, "procfile", targets=_bounded((name for name, _ in entries), MAX_TARGETS),
                     commands=_bounded((f"{name}: {command}" for name, command in entries), MAX_COMMANDS))


_FILES: tuple[tuple[tuple[str, ...], Callable[[str, str], BuildFile]], ...] = (
    (("Makefile", "makefile", "GNUmakefile"), parse_makefile),
    (("justfile", "Justfile", ".justfile"), parse_justfile),
    (("Taskfile.yml", "Taskfile.yaml", "taskfile.yml"), parse_taskfile),
    ((".gitlab-ci.yml",), parse_gitlab),
    ((".circleci/config.yml",), parse_circleci),
    ((".travis.yml",), parse_simple_ci("travis", ("install", "before_script", "script"))),
    (("azure-pipelines.yml",), parse_simple_ci("azure-pipelines", ())),
    (("Jenkinsfile",), parse_jenkinsfile),
    (("Dockerfile", "Containerfile"), parse_dockerfile),
    (("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"), parse_compose),
    (("tox.ini",), parse_tox),
    (("noxfile.py",), parse_noxfile),
    ((".pre-commit-config.yaml",), parse_pre_commit),
    (("Procfile",), parse_procfile),
)


def find_build_files(reader: FolderReader) -> list[BuildFile]:
    found: list[tuple[str, Callable[[str, str], BuildFile]]] = []
    for names, parser in _FILES:
        name = next((n for n in names if reader.exists(n)), None)
        if name is not None:
            found.append((name, parser))
    for entry in reader.listdir(".github/workflows"):
        if entry.name.endswith((".yml", ".yaml")) and entry.is_file(follow_symlinks=False):
            found.append((f".github/workflows/{entry.name}", parse_github_workflow))
    out = []
    for name, parser in found:
        file = reader.read(name)
        if file is None:
            continue
        try:
            out.append(parser(file.path, file.text))
        except DATA_ERRORS as error:  # shaped like nothing expected: it still exists
            reader.notes.append(f"{file.path}: could not be understood ({type(error).__name__})")
    return out
