"""submitit's two executors behind one small interface: submit a job after its parents, find a job again
by its id (after `seenn submit` was interrupted), and read its state as one of five words.

- `slurm` (submitit's SlurmExecutor): every job is submitted at once; a child waits for its parents with
  `--dependency=afterok:<ids>`, and `--kill-on-invalid-dep=yes` cancels it when a parent fails.
- `local` (submitit's LocalExecutor, jobs as processes on this machine): it has no dependencies, so the
  driver submits a job only when its parents are done, and at most `parallel` at a time.
"""

import os
from dataclasses import dataclass
from pathlib import Path

LOGS = Path(".seenn") / "submit" / "logs"  # submitit's folder: <job id>/<job id>_0_log.out, pickles
KINDS = ("slurm", "local")

# the states a job is shown in
PENDING, RUNNING, DONE, FAILED, UNKNOWN = "pending", "running", "done", "failed", "unknown"
SLURM_WAITING = {"PENDING", "REQUEUED", "CONFIGURING", "RESIZING", "SUSPENDED", "REQUEUE_HOLD"}
SLURM_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}


@dataclass(frozen=True)
class Resources:
    """What each job asks for (SLURM's names; the local executor uses gpus_per_node and time_min)."""

    partition: str | None = None
    account: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0
    cpus: int = 2
    mem_gb: float | None = None
    time_min: int = 24 * 60


def make_executor(kind: str, root: Path, res: Resources):
    import submitit

    folder = root / LOGS / "%j"
    if kind == "slurm":
        executor = submitit.SlurmExecutor(folder=folder)
        params = dict(
            time=res.time_min,
            nodes=res.nodes,
            ntasks_per_node=1,  # one task per node: DVC on the first, torchrun's agent on each
            cpus_per_task=res.cpus,
            stderr_to_stdout=True,
            additional_parameters={"kill_on_invalid_dep": "yes"},
        )
        if res.gpus_per_node:
            params["gpus_per_node"] = res.gpus_per_node
        if res.partition:
            params["partition"] = res.partition
        if res.account:
            params["account"] = res.account
        if res.mem_gb:
            params["mem"] = f"{res.mem_gb:g}GB"
        executor.update_parameters(**params)
        return executor
    if kind == "local":
        if res.nodes != 1:
            raise ValueError("the local executor runs on this machine: --nodes 1")
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(
            timeout_min=res.time_min, gpus_per_node=res.gpus_per_node, stderr_to_stdout=True
        )
        return executor
    raise ValueError(f"executor {kind!r}: one of {', '.join(KINDS)}")


def submit(executor, kind: str, name: str, parent_ids: list[str], fn, *args) -> str:
    """Submit `fn(*args)`; on SLURM after `parent_ids` succeed. Returns the job id."""
    if kind == "slurm":
        dependency = "afterok:" + ":".join(parent_ids) if parent_ids else None
        executor.update_parameters(job_name=name, dependency=dependency)
    elif parent_ids:
        raise ValueError("the local executor has no job dependencies: submit after the parents are done")
    return executor.submit(fn, *args).job_id


def handle(kind: str, root: Path, job_id: str):
    """The submitit job with this id (one submitted by an earlier `seenn submit` too)."""
    import submitit

    folder = root / LOGS / "%j"
    return (
        submitit.SlurmJob(folder=folder, job_id=job_id)
        if kind == "slurm"
        else submitit.LocalJob(folder=folder, job_id=job_id)
    )


def outcome(job) -> str | None:
    """DONE or FAILED from the job's result file, or None while it has none."""
    from submitit.core.utils import pickle_load

    path = job.paths.result_pickle
    if not path.exists():
        return None
    try:
        result = pickle_load(path)
    except (EOFError, OSError, ValueError):
        return None  # being written
    return DONE if result[0] == "success" else FAILED


def _local_alive(pid: int) -> bool:
    """Whether the local job's controller process still runs (our child, or one of an earlier driver)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it once it has ended
        return finished == 0
    except ChildProcessError:
        pass
    try:
        return b"submitit" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def refresh(kind: str, jobs: dict) -> None:
    """Ask the cluster once for the state of all `jobs` (id -> job)."""
    if kind == "slurm" and jobs:
        next(iter(jobs.values())).watcher.update()


def state(kind: str, job) -> tuple[str, str]:
    """(one of PENDING, RUNNING, DONE, FAILED, UNKNOWN; the scheduler's own word) after `refresh`."""
    if kind == "local":
        alive = _local_alive(int(job.job_id))
        result = outcome(job)
        if result is not None:
            return result, "" if result == DONE else "its stage failed"
        return (RUNNING, "running") if alive else (FAILED, "ended without a result")
    word = (job.watcher.get_state(job.job_id, mode="cache") or "UNKNOWN").split()[0].upper()
    result = outcome(job)  # after the state: a job that completed has written it
    if result is not None:
        return result, word if result == DONE else "its stage failed"
    if word in SLURM_WAITING:
        return PENDING, word
    if word in SLURM_RUNNING:
        return RUNNING, word
    if word in ("UNKNOWN", "") or word == "COMPLETED":  # not known yet, or its result file is on its way
        return UNKNOWN, word
    return FAILED, word


def log_tail(job, lines: int = 25) -> str:
    """The last lines of the job's log (stdout and stderr share one file) before submitit's own report
    of the exception (the stage's output says what went wrong), and the exception's last line."""
    log = []
    for path in (job.paths.stdout, job.paths.stderr):
        if path.exists():
            log += path.read_text(errors="replace").splitlines()
    if not log:
        return f"(no log at {job.paths.stdout})"
    cut = next((i for i, line in enumerate(log) if line.startswith("submitit ERROR")), None)
    if cut is None:
        return "\n".join(log[-lines:])
    return "\n".join([*log[:cut][-lines:], "...", log[-1]])
