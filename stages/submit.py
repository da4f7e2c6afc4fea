"""`seenn submit`: the training stages `dvc repro` would run, as cluster jobs (not a DVC stage).

Each job runs its one stage through DVC in its own git worktree on the project's DVC cache; afterwards
`dvc repro` here restores every result from the run-cache (README "On a cluster"). Every option can also
come from an environment variable (SEENN_SUBMIT_PARTITION, ...), e.g. a site's partition and account.
"""

import os
from pathlib import Path

import typer

from stages.common import PARAMS_OPTION, fail


def _default_executor() -> str:
    import shutil

    return "slurm" if shutil.which("sbatch") else "local"


def submit(
    executor: str = typer.Option(
        None, envvar="SEENN_SUBMIT_EXECUTOR", help="slurm or local (default: slurm where sbatch is found)"
    ),
    partition: str | None = typer.Option(None, envvar="SEENN_SUBMIT_PARTITION", help="SLURM partition"),
    account: str | None = typer.Option(None, envvar="SEENN_SUBMIT_ACCOUNT", help="SLURM account"),
    nodes: int = typer.Option(
        1, min=1, envvar="SEENN_SUBMIT_NODES", help="nodes per job (torchrun over them)"
    ),
    gpus_per_node: int = typer.Option(
        0,
        min=0,
        envvar="SEENN_SUBMIT_GPUS_PER_NODE",
        help="GPUs per node; more than one GPU in all: torchrun",
    ),
    cpus: int | None = typer.Option(
        None, min=1, envvar="SEENN_SUBMIT_CPUS", help="CPUs per node (default: the params' cpu.threads)"
    ),
    mem_gb: float | None = typer.Option(
        None, min=0, envvar="SEENN_SUBMIT_MEM_GB", help="memory per node, GB"
    ),
    time_min: int = typer.Option(
        24 * 60, "--time", min=1, envvar="SEENN_SUBMIT_TIME", help="time limit per job, minutes"
    ),
    parallel: int | None = typer.Option(
        None,
        min=1,
        envvar="SEENN_SUBMIT_PARALLEL",
        help="local executor: jobs at a time (default: this machine's CPUs / --cpus)",
    ),
    wait: bool = typer.Option(True, help="follow the jobs until they end (--no-wait: submit, show, return)"),
    dry_run: bool = typer.Option(False, help="run the stages needed first, list the jobs, submit nothing"),
    poll: float = typer.Option(5.0, min=0.1, help="seconds between looks at the jobs"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Submit the training stages that `dvc repro` would run as jobs (SLURM or local processes); then
    `dvc repro` restores their results from DVC's run-cache."""
    from pipeline.cluster.driver import Options, SubmitError
    from pipeline.cluster.driver import submit as run_submit
    from pipeline.cluster.executors import KINDS, Resources
    from pipeline.cluster.worktree import WorktreeError
    from pipeline.core.cpu import cpu_settings

    executor = executor or _default_executor()
    if executor not in KINDS:
        fail(f"--executor {executor!r}: one of {', '.join(KINDS)}")
    if executor == "local" and nodes != 1:
        fail("--nodes: the local executor runs on this machine, one node")
    if not (Path.cwd() / "dvc.yaml").is_file():
        fail("no dvc.yaml here: run seenn submit from the project root")
    threads = cpu_settings(params)[1]
    cpus = cpus or threads
    parallel = parallel or max(1, (os.cpu_count() or 1) // cpus)
    resources = Resources(partition, account, nodes, gpus_per_node, cpus, mem_gb, time_min)
    opts = Options(executor, resources, parallel, wait, dry_run, poll)
    try:
        code = run_submit(Path.cwd(), opts)
    except (SubmitError, WorktreeError) as err:
        fail(str(err))
    except KeyboardInterrupt:
        typer.echo(
            "\nseenn submit: interrupted. SLURM jobs keep running (local ones stop with it); "
            "run `seenn submit` again to follow them and submit what is missing",
            err=True,
        )
        raise typer.Exit(code=130) from None
    raise typer.Exit(code=code)
