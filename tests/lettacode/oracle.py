"""Real Letta Code as the judge of a memory folder: commit it through Letta Code's own pre-commit hook.

``tests/lettacode/setup.sh`` installs Letta Code (cached outside the clone) and takes the hook, its
``letta-memory-constraints.cjs`` and the layout policy a fresh agent's memory gets from the installed
bundle. ``LettaCode.verdict`` builds a git repository from a mapping of paths to contents, installs the
hook there exactly as Letta Code does, commits, and reports whether Letta Code accepted the commit and
what it said. Nothing is guessed from documentation: the verdict is the program's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "oracle", "GIT_AUTHOR_EMAIL": "oracle@example.invalid",
    "GIT_COMMITTER_NAME": "oracle", "GIT_COMMITTER_EMAIL": "oracle@example.invalid",
}


@dataclass(frozen=True)
class Verdict:
    """Letta Code's answer: the commit went in (``accepted``) or was refused with ``message``."""

    accepted: bool
    message: str


@dataclass(frozen=True)
class LettaCode:
    node_bin: Path
    letta_js: Path
    hook_dir: Path

    @classmethod
    def install(cls) -> LettaCode:
        """Run the idempotent set-up script and read the paths it prints."""
        done = subprocess.run(
            [str(HERE / "setup.sh")], capture_output=True, text=True, timeout=900, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tests/lettacode/setup.sh failed:\n{done.stderr[-4000:]}")
        values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        return cls(Path(values["NODE_BIN"]), Path(values["LETTA_JS"]), Path(values["HOOK_DIR"]))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_IDENTITY)
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = os.devnull
        env["PATH"] = f"{self.node_bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def install_hook(self, repo: Path) -> None:
        """What Letta Code's ``installMemoryGitHooks`` leaves in a memory repository."""
        hooks = repo / ".git" / "hooks"
        hooks.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.hook_dir / "pre-commit", hooks / "pre-commit")
        (hooks / "pre-commit").chmod(0o755)
        shutil.copyfile(self.hook_dir / "letta-memory-constraints.cjs", hooks / "letta-memory-constraints.cjs")
        shutil.copyfile(self.hook_dir / "letta-memory-layout-policy", repo / ".git" / "letta-memory-layout-policy")

    def commit_through_hook(self, repo: Path, message: str = "letta-ls oracle") -> Verdict:
        """Stage everything in ``repo`` and commit it through the installed hook.

        The human's approval to change ``.memfs.config.json`` is given (the variable Letta Code's hook
        reads), since these folders stand for memories as a user set them up.
        """
        env = self.env() | {"LETTA_MEMORY_CONSTRAINTS_UPDATE": "1"}
        subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True, capture_output=True)
        done = subprocess.run(
            ["git", "commit", "-q", "--allow-empty", "-m", message], cwd=repo, env=env,
            capture_output=True, timeout=120, check=False,
        )
        output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
        return Verdict(done.returncode == 0, output)

    def verdict(self, files: Mapping[str, str | bytes], head: Mapping[str, str | bytes] | None = None) -> Verdict:
        """Letta Code's verdict on committing ``files`` (over an earlier commit of ``head``, made without
        the hook, as a server pull would)."""
        with tempfile.TemporaryDirectory(prefix="lc-oracle-") as scratch:
            repo = Path(scratch)
            env = self.env()
            subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)
            if head is not None:
                write_files(repo, head)
                subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
                subprocess.run(["git", "commit", "-q", "--no-verify", "-m", "pulled"], cwd=repo, env=env, check=True)
                for path in head:
                    (repo / path).unlink()
            self.install_hook(repo)
            write_files(repo, files)
            return self.commit_through_hook(repo)


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
