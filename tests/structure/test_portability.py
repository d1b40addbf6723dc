"""letta-ls loads on platforms these machines cannot run (Windows, where most VS Code users are): no module
needs a POSIX-only (or Windows-only) standard module unless the import sits under a ``sys.platform`` /
``os.name`` guard. Checked twice: on the syntax tree of every module (imports inside functions included, since
they fail the same way when called), and by loading every module with those standard modules made unavailable
to letta-ls's own code."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.structure.modules import ROOT, modules, unguarded_imports

POSIX_ONLY = {"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "posix", "crypt", "syslog", "nis", "spwd"}
WINDOWS_ONLY = {"msvcrt", "winreg", "winsound", "_winapi", "nt"}


def _platform_bound(name: str) -> bool:
    return name.split(".")[0] in POSIX_ONLY | WINDOWS_ONLY


def test_no_module_imports_a_platform_only_module_outside_a_platform_guard():
    offenders = [f"{module.path.relative_to(ROOT)}:{line}: {target}"
                 for module in modules().values()
                 for line, target in unguarded_imports(module) if _platform_bound(target)]
    assert offenders == [], "platform-only imports outside an `if sys.platform`/`os.name` guard:\n" + "\n".join(
        offenders)


def test_the_check_sees_an_import_inside_a_function_and_accepts_a_guarded_one(tmp_path):
    from tests.structure.modules import Module

    source = tmp_path / "sample.py"
    source.write_text(textwrap.dedent("""
        import os
        import sys
        if sys.platform != "win32":
            import fcntl
        def f():
            import termios
            if os.name == "nt":
                import msvcrt
    """))
    found = [target for _, target in unguarded_imports(Module("sample", source, False))]
    assert [name for name in found if _platform_bound(name)] == ["termios"]


LOAD_EVERYTHING = textwrap.dedent("""
    import builtins, importlib, sys
    BLOCKED = set(sys.argv[1].split(","))
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        importer = (globals or {}).get("__name__", "")
        if importer.startswith("letta_ls") and level == 0 and name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not on this platform)", name=name)
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
    failed = []
    for module in sys.argv[2:]:
        try:
            importlib.import_module(module)
        except Exception as exc:
            failed.append(f"{module}: {type(exc).__name__}: {exc}")
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
""")


def test_every_module_loads_where_fcntl_termios_pwd_and_grp_do_not_exist():
    names = sorted(name for name in modules() if not name.endswith("__main__"))  # importing it runs the CLI
    run = subprocess.run([sys.executable, "-c", LOAD_EVERYTHING, ",".join(sorted(POSIX_ONLY)), *names],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, f"modules that fail to load without POSIX-only modules:\n{run.stdout}{run.stderr}"
