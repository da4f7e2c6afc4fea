"""`seenn docs [--check]`: rewrite the generated blocks of README.md and docs/ from the committed reports.

Not a DVC stage: the docs are in git beside the reports they quote. Run it after `dvc repro` changes a
report; `--check` rewrites nothing and exits 1 listing every block that differs from the reports. Besides
the report blocks (`pipeline/docs/blocks.py`), the `cli-reference` block of docs/cli.md is built
from the `seenn` app itself, so the command-line reference cannot drift from the code either.
"""

from pathlib import Path

import typer

from pipeline.docs.blocks import BLOCKS, DocsError, doc_files, rewrite, stale_blocks
from stages.common import fail


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def cli_reference(_reports: Path | None = None) -> str:
    """Markdown for every `seenn` command: its help, usage and a table of its arguments and options."""
    import click
    from typer.main import get_command

    from stages.cli import COMMANDS, build_app

    group = get_command(build_app())
    root = click.Context(group, info_name="seenn")
    parts = []
    for name in COMMANDS:
        command = group.commands[name]
        ctx = click.Context(command, info_name=name, parent=root)
        arguments = [p.name.upper() for p in command.params if isinstance(p, click.Argument)]
        usage = " ".join(["[OPTIONS]", *arguments])
        rows = []
        for param in command.get_params(ctx):
            if param.name == "help":
                continue
            if isinstance(param, click.Argument):
                names = f"`{param.human_readable_name}` (argument)"
            else:
                names = " / ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
            default = f"`{param.default}`" if param.default is not None else ""
            default = "required" if param.required else default
            rows.append(f"| {names} | {default} | {_escape(getattr(param, 'help', None) or '')} |")
        table = ["| argument or option | default | meaning |", "|---|---|---|", *rows] if rows else []
        parts.append(
            "\n".join(
                [f"## seenn {name}", "", _escape(command.help or ""), "", "```", f"seenn {name} {usage}"]
                + ["```", *([""] + table if table else [])]
            )
        )
    return "\n\n".join(parts)


def blocks() -> dict:
    return {**BLOCKS, "cli-reference": cli_reference}


def docs(
    check: bool = typer.Option(False, "--check", help="only report stale blocks (exit 1 if any)"),
    reports: Path = typer.Option(Path("reports"), help="reports folder the blocks are built from"),
    root: Path = typer.Option(Path("."), help="project folder holding README.md and docs/"),
) -> None:
    """Rebuild the results tables in README.md and docs/ from reports/ (or check they are current)."""
    files = doc_files(root)
    try:
        if check:
            stale = stale_blocks(files, reports, blocks())
            for block in stale:
                typer.echo(f"stale: {block}")
            if stale:
                typer.echo(f"docs: {len(stale)} stale block(s); run `seenn docs`", err=True)
                raise typer.Exit(code=1)
            typer.echo(f"docs: every generated block in {len(files)} file(s) matches {reports}")
            return
        changed = rewrite(files, reports, blocks())
    except DocsError as err:
        fail(str(err))
    typer.echo(f"docs: rewrote {len(changed)} of {len(files)} file(s)" + "".join(f"\n  {p}" for p in changed))
