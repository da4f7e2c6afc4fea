"""`seenn`: one console entry point for every DVC stage (`seenn --help` lists them).

Each stage module is imported only when its command runs (all of them for `--help`): the sweep, tables
and params checks then start without importing torch, which keeps `dvc exp run -S alpha=...` fast.
"""

import importlib
import sys
from pathlib import Path

import typer

from pipeline.core.cpu import pin_cpu
from pipeline.core.launcher import LauncherError, relaunch
from pipeline.core.memory import keep_freed_memory

# command name -> (module, function), in pipeline order
COMMANDS = {
    "use-profile": ("stages.profile", "use_profile"),
    "check-params": ("stages.check_params", "check_params"),
    "data": ("stages.data", "data"),
    "pretrain-ann": ("stages.pretrain_ann", "pretrain_ann"),
    "convert": ("stages.convert", "convert"),
    "train-snn": ("stages.train_snn", "train_snn"),
    "import-checkpoint": ("stages.import_checkpoint", "import_checkpoint"),
    "finetune": ("stages.finetune", "finetune"),
    "sweep": ("stages.sweep", "sweep"),
    "tables": ("stages.tables", "tables"),
    "figures": ("stages.figures", "figures"),
    "hardware": ("stages.hardware", "hardware"),
    "submit": ("stages.submit", "submit"),  # not a stage: the training stages as cluster jobs
    "evaluate": ("stages.evaluate", "evaluate"),  # not a stage: exit policies on any SNN's outputs
    "docs": ("stages.docs", "docs"),  # not a stage: README and docs/ tables rebuilt from reports/
}


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or with just `only` when that command is being run."""
    app = typer.Typer(
        help="SEENN reproduction: the DVC stages, in pipeline order. dvc.yaml calls these; run one by hand "
        "to debug it.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name, (module, function) in COMMANDS.items():
        if only is None or name == only:
            app.command(name=name)(getattr(importlib.import_module(module), function))
    if only is not None:  # a one-command Typer app would drop its name; keep `seenn <command> ...` working
        app.command(name="--list-commands", hidden=True)(lambda: typer.echo(", ".join(COMMANDS)))
    return app


def _params_file(argv: list[str]) -> Path:
    """The `--params` a command was given (`--params FILE` or `--params=FILE`), else params.yaml."""
    for i, arg in enumerate(argv):
        if arg == "--params" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--params="):
            return Path(arg.split("=", 1)[1])
    return Path("params.yaml")


def main() -> None:
    pin_cpu(_params_file(sys.argv))  # before any stage imports torch or numpy (pipeline/core/cpu.py)
    keep_freed_memory()  # no page faults for each step's large tensors (pipeline/core/memory.py)
    try:  # a training command under torchrun, when SEENN_LAUNCHER or .seenn/launcher asks (once)
        relaunch(sys.argv)
    except LauncherError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    invoked = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in COMMANDS else None
    build_app(invoked)()


def __getattr__(name: str):
    """`from stages.cli import app`: the app with every command, built on first use (tests, CliRunner)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
