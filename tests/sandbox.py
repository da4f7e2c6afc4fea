"""A throwaway copy of the project in its own git repository, for end-to-end `dvc repro` runs that must
not touch the real checkout (used by the end-to-end test and the pipeline timing benchmark)."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPIED = [
    "pipeline",
    "stages",
    "benchmarks",
    "profiles",
    "build",
    "params.yaml",
    "dvc.yaml",
    "pyproject.toml",
    ".gitignore",
    ".dvcignore",
]


CIFAR10_ARCHIVE_VAR = "SEENN_CIFAR10_ARCHIVE"


def cifar10_archive() -> Path | None:
    """The CIFAR-10 JPEG archive (`train/<class>/*.jpg`, `test/<class>/*.jpg`, tar.xz) named by the
    environment variable SEENN_CIFAR10_ARCHIVE, or None when it is unset or names no file."""
    value = os.environ.get(CIFAR10_ARCHIVE_VAR, "")
    return Path(value) if value and Path(value).is_file() else None


def cifar10_archive_skip_reason() -> str:
    """Why a test needing the archive skips: the variable is unset, or names no file."""
    value = os.environ.get(CIFAR10_ARCHIVE_VAR, "")
    if not value:
        return f"{CIFAR10_ARCHIVE_VAR} is not set (a CIFAR-10 JPEG tar.xz archive)"
    return f"{CIFAR10_ARCHIVE_VAR}={value} is not a file"


def sandbox_env() -> dict[str, str]:
    """Environment whose PATH finds this interpreter's `seenn` and `dvc` first; no DVC analytics."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONPATH"] = ""  # no user paths; note the editable install still imports the checkout's code
    return env


def run(
    cmd: list[str], cwd: Path, check: bool = True, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=cwd, env={**sandbox_env(), **(extra_env or {})}, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_sandbox(
    dest: Path, edit_params: Callable[[dict], None] | None = None, profile: str | None = None
) -> Path:
    """Copy the project's code and pipeline files into `dest/project`, optionally switch to a profile
    and edit params.yaml,
    `git init` + `dvc init` there and commit. Runs stay in the sandbox's own DVC cache."""
    project = dest / "project"
    project.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, project / name)
    if profile is not None:
        shutil.copy2(project / "profiles" / f"{profile}.yaml", project / "params.yaml")
    if edit_params is not None:
        params = yaml.safe_load((project / "params.yaml").read_text())
        edit_params(params)
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)
    run(["git", "config", "user.email", "sandbox@example.invalid"], project)
    run(["git", "config", "user.name", "sandbox"], project)
    run(["dvc", "init", "-q"], project)
    run(["dvc", "config", "core.analytics", "false"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "sandbox"], project)
    return project


def one_run(params: dict) -> None:
    """The embedded default shrunk to one directly trained run (`r19`), its SEENN-II finetune and one grid
    beta, one epoch each."""
    tiny(params)
    params["conversion"] = {}
    params["direct"] = {"r19": params["direct"]["r19"]}
    params["seenn2"]["runs"] = ["r19"]


def tiny(params: dict) -> None:
    """Shrink every training (runs and SEENN-II finetunes) to one epoch, the SEENN-II grid to one beta and
    the hardware stage's timed inputs to 64: the pipeline's shape stays (a headline finetune and a grid
    point per run), its cost drops to seconds."""
    params.setdefault("hardware", {})["test_inputs"] = 64
    params.setdefault("cpu", {})["threads"] = 1  # tiny models: one thread is as fast, and two tests can share 2 cores
    for section in ("conversion", "direct"):
        for run_params in params.get(section, {}).values():
            run_params["epochs"] = 1
    if params.get("seenn2", {}).get("runs"):
        params["seenn2"]["epochs"] = 1
        params["seenn2"]["betas"] = params["seenn2"]["betas"][:1]
