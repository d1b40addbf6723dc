"""Package manifests of every common ecosystem, parsed into ``Manifest`` records.

Each parser takes a manifest's text and returns what a newcomer would want to know: the name, the
description, the language, the scripts, the dependencies (names only, at most ``MAX_DEPENDENCIES``). A
parser never raises on a broken file: it returns what it could read, or None. XML manifests are parsed
only without a DTD (no entity expansion), TOML and JSON with the standard library.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from letta_ls.init.workspace.files import FolderReader
from letta_ls.init.workspace.model import Manifest
from letta_ls.subagents.errors import DATA_ERRORS

MAX_DEPENDENCIES = 40
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _names(items: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        match = _REQUIREMENT_NAME.match(item)
        if match and match.group(1) not in out:
            out.append(match.group(1))
        if len(out) >= MAX_DEPENDENCIES:
            break
    return tuple(out)


def _text(value: Any, limit: int = 300) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return " ".join(value.split())[:limit]


def _scripts(table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        return {}
    out = {}
    for key, value in list(table.items())[:40]:
        if isinstance(value, list):
            value = " && ".join(str(v) for v in value)
        if isinstance(key, str) and isinstance(value, str):
            out[key] = " ".join(value.split())[:200]
    return out


def parse_pyproject(path: str, text: str) -> Manifest | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return Manifest(path, "pyproject.toml", "python", language="Python")
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    deps = list(project.get("dependencies") or [])
    dev: list[Any] = []
    for group, items in (project.get("optional-dependencies") or {}).items():
        (dev if group in ("dev", "test", "tests", "lint", "docs") else deps).extend(items or [])
    for items in (data.get("dependency-groups") or {}).values():
        dev.extend(item for item in items or [] if isinstance(item, str))
    if poetry:
        deps += [name for name in (poetry.get("dependencies") or {}) if name != "python"]
        dev += list(poetry.get("dev-dependencies") or {})
        for group in (poetry.get("group") or {}).values():
            if isinstance(group, dict):
                dev += list(group.get("dependencies") or {})
    details = {}
    if _text(project.get("requires-python")):
        details["requires-python"] = project["requires-python"]
    build = data.get("build-system")
    if isinstance(build, dict) and _text(build.get("build-backend")):
        details["build-backend"] = build["build-backend"]
    return Manifest(
        path, "pyproject.toml", "python",
        name=_text(project.get("name")) or _text(poetry.get("name")),
        description=_text(project.get("description")) or _text(poetry.get("description")),
        version=_text(project.get("version")) or _text(poetry.get("version")),
        language="Python", scripts=_scripts(project.get("scripts") or poetry.get("scripts")),
        dependencies=_names(deps), dev_dependencies=_names(dev), details=details,
    )


def parse_setup_cfg(path: str, text: str) -> Manifest | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    meta = parser["metadata"] if parser.has_section("metadata") else {}
    requires = parser.get("options", "install_requires", fallback="")
    return Manifest(path, "setup.cfg", "python", name=_text(meta.get("name")),
                    description=_text(meta.get("description")), language="Python",
                    dependencies=_names(requires.splitlines()))


def parse_requirements(path: str, text: str) -> Manifest | None:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "-"))]
    return Manifest(path, path.rsplit("/", 1)[-1], "python", language="Python", dependencies=_names(lines))


def parse_package_json(path: str, text: str) -> Manifest | None:
    try:
        data = json.loads(text)
    except ValueError:
        return Manifest(path, "package.json", "node", language="JavaScript")
    if not isinstance(data, dict):
        return None
    deps = tuple(data.get("dependencies") or {})[:MAX_DEPENDENCIES]
    dev = tuple(data.get("devDependencies") or {})[:MAX_DEPENDENCIES]
    typescript = "typescript" in deps or "typescript" in dev or any(d.startswith("@types/") for d in dev)
    details = {}
    if _text(data.get("packageManager")):
        details["packageManager"] = data["packageManager"]
    engines = data.get("engines")
    if isinstance(engines, dict) and _text(engines.get("node")):
        details["node"] = engines["node"]
    if data.get("workspaces"):
        details["workspaces"] = "yes"
    if data.get("type") == "module":
        details["module"] = "ESM"
    return Manifest(path, "package.json", "node", name=_text(data.get("name")),
                    description=_text(data.get("description")), version=_text(data.get("version")),
                    language="TypeScript" if typescript else "JavaScript",
                    scripts=_scripts(data.get("scripts")), dependencies=deps, dev_dependencies=dev, details=details)


def parse_cargo(path: str, text: str) -> Manifest | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return Manifest(path, "Cargo.toml", "rust", language="Rust")
    package = data.get("package") if isinstance(data.get("package"), dict) else {}
    details = {}
    if isinstance(package.get("edition"), str):
        details["edition"] = package["edition"]
    workspace = data.get("workspace")
    if isinstance(workspace, dict) and workspace.get("members"):
        details["workspace members"] = ", ".join(str(m) for m in workspace["members"][:10])
    return Manifest(path, "Cargo.toml", "rust", name=_text(package.get("name")),
                    description=_text(package.get("description")),
                    version=_text(package.get("version")) if isinstance(package.get("version"), str) else None,
                    language="Rust", dependencies=tuple(data.get("dependencies") or {})[:MAX_DEPENDENCIES],
                    dev_dependencies=tuple(data.get("dev-dependencies") or {})[:MAX_DEPENDENCIES], details=details)


def parse_go_mod(path: str, text: str) -> Manifest | None:
    module = re.search(r"^module\s+(\S+)", text, re.M)
    version = re.search(r"^go\s+(\S+)", text, re.M)
    requires = re.findall(r"^\s*(?:require\s+)?([\w.-]+\.[\w./-]+)\s+v\S+", text, re.M)
    return Manifest(path, "go.mod", "go", name=module.group(1) if module else None, language="Go",
                    dependencies=tuple(dict.fromkeys(requires))[:MAX_DEPENDENCIES],
                    details={"go": version.group(1)} if version else {})


def _xml(text: str) -> ET.Element | None:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None  # no DTDs: nothing to expand, nothing fetched
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def parse_pom(path: str, text: str) -> Manifest | None:
    root = _xml(text)
    if root is None:
        return Manifest(path, "pom.xml", "java", language="Java")
    deps = [d.findtext("artifactId") for d in root.findall("./dependencies/dependency")]
    kotlin = "kotlin-maven-plugin" in text
    return Manifest(path, "pom.xml", "java", name=_text(root.findtext("name")) or _text(root.findtext("artifactId")),
                    description=_text(root.findtext("description")), version=_text(root.findtext("version")),
                    language="Kotlin" if kotlin else "Java", dependencies=_names(deps))


def parse_gradle(path: str, text: str) -> Manifest | None:
    deps = re.findall(r"""(?:implementation|api|compileOnly|runtimeOnly)\s*\(?\s*["']([\w.-]+:[\w.-]+)""", text)
    test = re.findall(r"""test(?:Implementation|RuntimeOnly)\s*\(?\s*["']([\w.-]+:[\w.-]+)""", text)
    kotlin = path.endswith(".kts") or "kotlin" in text
    return Manifest(path, path.rsplit("/", 1)[-1], "java", language="Kotlin" if kotlin else "Java",
                    dependencies=tuple(dict.fromkeys(deps))[:MAX_DEPENDENCIES],
                    dev_dependencies=tuple(dict.fromkeys(test))[:MAX_DEPENDENCIES])


def parse_gemfile(path: str, text: str) -> Manifest | None:
    gems = re.findall(r"""^\s*gem\s+["']([\w.-]+)["']""", text, re.M)
    return Manifest(path, "Gemfile", "ruby", language="Ruby", dependencies=_names(gems))


def parse_composer(path: str, text: str) -> Manifest | None:
    try:
        data = json.loads(text)
    except ValueError:
        return Manifest(path, "composer.json", "php", language="PHP")
    if not isinstance(data, dict):
        return None
    return Manifest(path, "composer.json", "php", name=_text(data.get("name")),
                    description=_text(data.get("description")), language="PHP", scripts=_scripts(data.get("scripts")),
                    dependencies=tuple(k for k in data.get("require") or {} if k != "php")[:MAX_DEPENDENCIES],
                    dev_dependencies=tuple(data.get("require-dev") or {})[:MAX_DEPENDENCIES])


def parse_csproj(path: str, text: str) -> Manifest | None:
    root = _xml(text)
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if root is None:
        return Manifest(path, "*.csproj", "dotnet", name=name, language="C#")
    framework = root.findtext(".//TargetFramework") or root.findtext(".//TargetFrameworks")
    packages = [p.get("Include") for p in root.iter("PackageReference")]
    return Manifest(path, "*.csproj", "dotnet", name=name, language="F#" if path.endswith(".fsproj") else "C#",
                    dependencies=_names(packages), details={"framework": framework} if framework else {})


def parse_cmake(path: str, text: str) -> Manifest | None:
    project = re.search(r"^\s*project\s*\(\s*([\w.-]+)", text, re.M | re.I)
    return Manifest(path, "CMakeLists.txt", "c/c++", name=project.group(1) if project else None, language="C/C++")


def parse_deno(path: str, text: str) -> Manifest | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return Manifest(path, path.rsplit("/", 1)[-1], "deno", name=_text(data.get("name")), language="TypeScript",
                    scripts=_scripts(data.get("tasks")))


PARSERS: dict[str, Callable[[str, str], Manifest | None]] = {
    "pyproject.toml": parse_pyproject,
    "setup.cfg": parse_setup_cfg,
    "requirements.txt": parse_requirements,
    "package.json": parse_package_json,
    "Cargo.toml": parse_cargo,
    "go.mod": parse_go_mod,
    "pom.xml": parse_pom,
    "build.gradle": parse_gradle,
    "build.gradle.kts": parse_gradle,
    "Gemfile": parse_gemfile,
    "composer.json": parse_composer,
    "CMakeLists.txt": parse_cmake,
    "deno.json": parse_deno,
    "deno.jsonc": parse_deno,
}
_PROJECT_FILE_SUFFIXES = (".csproj", ".fsproj", ".vbproj")
_SKIP_DIRS = frozenset({"node_modules", ".git", ".venv", "venv", "vendor", "target", "dist", "build", "__pycache__"})


def find_manifests(reader: FolderReader, max_manifests: int = 20) -> list[Manifest]:
    """Manifests at the top of the folder and one level down (monorepo packages), top level first."""
    out: list[Manifest] = []
    folders = [""] + [e.name for e in reader.listdir() if e.is_dir(follow_symlinks=False)
                      and not e.name.startswith(".") and e.name not in _SKIP_DIRS]
    for folder in folders:
        for entry in reader.listdir(folder):
            if len(out) >= max_manifests:
                return out
            parser = PARSERS.get(entry.name)
            if parser is None and entry.name.endswith(_PROJECT_FILE_SUFFIXES):
                parser = parse_csproj
            if parser is None or not entry.is_file(follow_symlinks=False):
                continue
            relative = f"{folder}/{entry.name}" if folder else entry.name
            file = reader.read(relative)
            if file is None:
                continue
            try:
                manifest = parser(relative, file.text)
            except DATA_ERRORS as error:  # a manifest shaped like nothing expected: note it, go on
                reader.notes.append(f"{relative}: could not be understood ({type(error).__name__})")
                continue
            if manifest is not None:
                out.append(manifest)
    if reader.exists("settings.gradle") or reader.exists("settings.gradle.kts"):
        settings = reader.read("settings.gradle") or reader.read("settings.gradle.kts")
        name = re.search(r"""rootProject\.name\s*=\s*["']([\w.-]+)""", settings.text) if settings else None
        if name:
            out = [_renamed(m, name.group(1)) if m.kind.startswith("build.gradle") and "/" not in m.path else m
                   for m in out]
    return out


def _renamed(manifest: Manifest, name: str) -> Manifest:
    return replace(manifest, name=manifest.name or name)
