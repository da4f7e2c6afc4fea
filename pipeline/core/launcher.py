"""Several GPUs or nodes without touching the pipeline: the `seenn` entry point re-launches a training
command under torchrun when this machine asks for it.

How many processes train a run cannot change its results (N processes reproduce one process with the same
global batch: tests/training/test_distributed.py), so the launcher must not change what DVC sees: it is
not in dvc.yaml's `cmd` nor in params.yaml (either would change dvc.lock and the run-cache key, and
invalidate every trained result). It is read from, first match wins:

- the environment variable `SEENN_LAUNCHER`, e.g. `SEENN_LAUNCHER="torchrun --nproc_per_node 4"`
  (one shell, one job; `seenn submit` sets it in each cluster job; an empty value means one process);
- the file `.seenn/launcher` in the project root (git-ignored, so it is this machine's own setting: a
  4-GPU workstation writes `torchrun --nproc_per_node 4` there once and every `dvc repro` uses it).

Only the training commands are re-launched, once: the torchrun children carry torchrun's variables
(`WORLD_SIZE`, `TORCHELASTIC_RUN_ID`) and `SEENN_LAUNCHED`, and never re-launch again. The entry point pins
the CPU environment (pipeline/core/cpu.py) before calling this, and the re-launch replaces the process
(exec), so torchrun and every child inherit exactly that environment.
"""

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "SEENN_LAUNCHER"
LOCAL_FILE = Path(".seenn") / "launcher"
LAUNCHED_COMMANDS = ("pretrain-ann", "train-snn", "finetune")  # the commands that train (DDP)
MARKER = "SEENN_LAUNCHED"  # set in the re-launched environment
CHILD_VARIABLES = ("WORLD_SIZE", "TORCHELASTIC_RUN_ID", MARKER)  # any of these: already launched
EXAMPLE = "torchrun --nproc_per_node 4"


class LauncherError(ValueError):
    """A launcher setting that cannot work; the message is one line for the user."""


def launcher_setting(env: Mapping[str, str], root: Path) -> tuple[str, str] | None:
    """(where it was set, the text) of this machine's launcher, or None when nothing asks for one."""
    if ENV_VAR in env:
        return ENV_VAR, env[ENV_VAR]
    path = root / LOCAL_FILE
    if path.is_file():
        lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
        return str(LOCAL_FILE), " ".join(line for line in lines if line)
    return None


def launcher_words(env: Mapping[str, str], root: Path) -> list[str]:
    """The torchrun command line to prefix, or [] for one process (nothing set, empty, or `seenn`)."""
    setting = launcher_setting(env, root)
    if setting is None:
        return []
    source, text = setting
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise LauncherError(f"{source} = {text!r} is not a command line: {err}") from None
    if words in ([], ["seenn"]):
        return []
    if Path(words[0]).name != "torchrun":
        raise LauncherError(
            f"{source} = {text!r} is not allowed: a torchrun command line such as {EXAMPLE!r}, "
            "or empty for one process"
        )
    if "--no-python" in words or words[-1] == "seenn":
        raise LauncherError(
            f"{source} = {text!r}: name the launcher only, e.g. {EXAMPLE!r}; "
            "seenn appends '--no-python seenn <command> ...' itself"
        )
    return words


def self_command(argv: list[str]) -> list[str]:
    """How to start this same entry point again: the `seenn` script, else `python -m stages.cli`."""
    script = Path(argv[0]) if argv else Path()
    if script.name == "seenn" and script.is_file():
        return [str(script.absolute())]
    return [sys.executable, "-m", "stages.cli"]


def relaunch_argv(argv: list[str], env: Mapping[str, str], root: Path) -> list[str] | None:
    """The command that re-runs `argv` under the launcher, or None to run it here as it is."""
    command = argv[1] if len(argv) > 1 else None
    if command not in LAUNCHED_COMMANDS or any(name in env for name in CHILD_VARIABLES):
        return None
    words = launcher_words(env, root)
    if not words:
        return None
    return [*words, "--no-python", *self_command(argv), *argv[1:]]


def relaunch(argv: list[str]) -> None:
    """Replace this process by `argv` under the launcher when one is asked for; return otherwise."""
    new = relaunch_argv(argv, os.environ, Path.cwd())
    if new is None:
        return
    env = {**os.environ, MARKER: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(new[0], new, env)
    except OSError as err:
        raise LauncherError(f"cannot start the launcher {new[0]!r}: {err.strerror}") from None
