"""`seenn submit`: the training stages that `dvc repro` would run, as cluster jobs.

1. The stages upstream of the training stages that are not training (check_params, data@*) run here,
   with `dvc repro`, so that every training stage is judged against its real inputs.
2. DVC's graph says which training stages would run and what each waits for (plan.py).
3. Each job gets its worktree (worktree.py) and is submitted (executors.py) after its parents: at once
   with SLURM dependencies, or, on the local executor, when its parents are done, `parallel` at a time.
   A job that is already recorded for the same key (state.py) is followed, not submitted again; a failed
   or vanished one is submitted again (in its old worktree, so training resumes from its checkpoint).
4. The table shows the jobs until all are done or failed (`wait`), or once (`no wait`). A failed job is
   reported with the end of its log; its children are blocked. A finished job's worktree is removed.
5. Then `dvc repro` in the workspace restores every trained result from the run-cache and runs the
   sweeps and reports.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console

from pipeline.cluster import executors, state, worktree
from pipeline.cluster.display import Display, Row
from pipeline.cluster.executors import DONE, FAILED, PENDING, RUNNING, UNKNOWN, Resources
from pipeline.cluster.job import JobSpec, run_job
from pipeline.cluster.plan import Plan, local_stages, make_plan

WAITING, BLOCKED = "waiting", "blocked"
ACTIVE = (PENDING, RUNNING, UNKNOWN)
STALE_S = 120  # a SLURM job COMPLETED this long without its result file counts as failed


@dataclass(frozen=True)
class Options:
    executor: str = "local"
    resources: Resources = field(default_factory=Resources)
    parallel: int = 1  # local executor: jobs at a time
    wait: bool = True
    dry_run: bool = False
    poll_s: float = 5.0


class SubmitError(RuntimeError):
    """`seenn submit` cannot go on; one line for the user."""


def _dvc(*args: str) -> list[str]:
    """DVC of this Python environment (the jobs run the same one)."""
    here = Path(sys.executable).parent / "dvc"
    return [str(here) if here.exists() else (shutil.which("dvc") or "dvc"), *args]


def run_local_stages(root: Path, console: Console) -> None:
    names = local_stages(root)
    if not names:
        return
    console.print(f"seenn submit: here first: dvc repro {' '.join(names)}", highlight=False)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(_dvc("repro", *names), cwd=root, env=env)
    if proc.returncode != 0:
        raise SubmitError(f"`dvc repro {' '.join(names)}` failed ({proc.returncode}); nothing was submitted")


def cache_dir(root: Path) -> Path:
    out = subprocess.run(_dvc("cache", "dir"), cwd=root, capture_output=True, text=True, check=True).stdout
    return (root / out.strip()).resolve()


class Driver:
    def __init__(self, root: Path, plan: Plan, opts: Options, console: Console):
        self.root, self.plan, self.opts, self.console = root, plan, opts, console
        self.kind = opts.executor
        self.executor = executors.make_executor(self.kind, root, opts.resources)
        self.cache = cache_dir(root)
        self.entries = state.load(root)
        self.rows = {j.stage: Row(j.stage, since=time.time()) for j in plan.jobs}
        self.handles: dict[str, object] = {}  # stage -> submitit job
        self.kinds: dict[str, str] = {}  # stage -> executor of its job
        self.unknown_since: dict[str, float] = {}
        self.gpu_slots: dict[str, int] = {}  # local executor: stage -> its slot of GPUs
        self.submitted: list[str] = []
        self.followed: list[str] = []
        # the local executor starts first the jobs that most others wait for (train_snn before a convert)
        waiting_on = {j.stage: sum(j.stage in k.parents for k in plan.jobs) for j in plan.jobs}
        self.by_priority = sorted(plan.jobs, key=lambda j: -waiting_on[j.stage])

    # --- bookkeeping ---------------------------------------------------------------------------------
    def set(self, stage: str, new: str, note: str = "", job_id: str | None = None) -> None:
        row = self.rows[stage]
        if job_id is not None:
            row.job_id = job_id
        if row.state != new:
            row.state, row.since = new, time.time()
        row.note = note

    def tree(self, stage: str) -> Path:
        return worktree.worktree_path(self.root, stage, self.plan.job(stage).key)

    def adopt(self) -> None:
        """Follow the jobs the state file records for the same keys; forget the others."""
        for job in self.plan.jobs:
            entry = self.entries.get(job.stage)
            if entry is None or entry.key != job.key or entry.executor not in executors.KINDS:
                continue
            handle = executors.handle(entry.executor, self.root, entry.job_id)
            self.handles[job.stage], self.kinds[job.stage] = handle, entry.executor
            self.set(job.stage, UNKNOWN, "submitted earlier", entry.job_id)
            self.followed.append(job.stage)
        self.poll()
        for stage in list(self.handles):
            row = self.rows[stage]
            if row.state == FAILED:  # submit it again
                self.console.print(
                    f"seenn submit: {stage}: job {row.job_id} failed earlier; submitting it again",
                    highlight=False,
                )
                self.forget(stage, WAITING, f"failed earlier as job {row.job_id}")
                self.followed.remove(stage)

    def forget(self, stage: str, new: str, note: str) -> None:
        self.handles.pop(stage, None)
        self.kinds.pop(stage, None)
        self.gpu_slots.pop(stage, None)
        self.set(stage, new, note, job_id="")

    # --- submitting ----------------------------------------------------------------------------------
    def ready(self, stage: str) -> tuple[bool, list[str]]:
        """Whether the job can be submitted now, and the job ids it must wait for (SLURM)."""
        waits = []
        for parent in self.plan.job(stage).parents:
            prow = self.rows[parent]
            if prow.state in (FAILED, BLOCKED):
                self.set(stage, BLOCKED, f"{parent} failed")
                return False, []
            if prow.state == DONE:
                continue
            if self.kind == "slurm" and self.kinds.get(parent) == "slurm" and prow.state in ACTIVE:
                waits.append(prow.job_id)
                continue
            return False, []
        return True, waits

    def free_gpus(self, stage: str) -> tuple[int, ...]:
        """Local executor: a slot of `gpus_per_node` GPUs no running job of ours uses."""
        g = self.opts.resources.gpus_per_node
        used = set(self.gpu_slots.values())
        slot = next(i for i in range(len(used) + 1) if i not in used)
        self.gpu_slots[stage] = slot
        return tuple(range(slot * g, (slot + 1) * g))

    def submit(self, stage: str, waits: list[str]) -> None:
        job = self.plan.job(stage)
        tree = worktree.prepare(self.root, self.tree(stage), self.cache)
        res = self.opts.resources
        spec = JobSpec(job.stage, job.cmd, str(tree), res.nodes, res.gpus_per_node)
        if self.kind == "local" and res.gpus_per_node:
            self.executor.update_parameters(visible_gpus=self.free_gpus(stage))
        job_id = executors.submit(self.executor, self.kind, stage, waits, run_job, spec)
        self.handles[stage] = executors.handle(self.kind, self.root, job_id)
        self.kinds[stage] = self.kind
        self.entries[stage] = state.Entry(
            job.key,
            self.kind,
            job_id,
            str(tree.relative_to(self.root)),
            datetime.now().isoformat(timespec="seconds"),
        )
        state.save(self.root, self.entries)
        self.set(stage, PENDING, "after " + ", ".join(waits) if waits else "", job_id)
        self.submitted.append(stage)

    def submit_ready(self) -> None:
        running = sum(1 for s in self.handles if self.rows[s].state in ACTIVE and self.kinds[s] == "local")
        for job in self.by_priority:
            if self.rows[job.stage].state != WAITING:
                continue
            ok, waits = self.ready(job.stage)
            if not ok:
                continue
            if self.kind == "local":
                if running >= self.opts.parallel:
                    continue
                running += 1
            self.submit(job.stage, waits)

    # --- following -----------------------------------------------------------------------------------
    def poll(self) -> None:
        for kind in executors.KINDS:
            executors.refresh(kind, {s: h for s, h in self.handles.items() if self.kinds[s] == kind})
        now = time.time()
        for stage, handle in self.handles.items():
            row = self.rows[stage]
            if row.state in (DONE, FAILED, BLOCKED):
                continue
            new, word = executors.state(self.kinds[stage], handle)
            if new == UNKNOWN and word == "COMPLETED":
                if now - self.unknown_since.setdefault(stage, now) > STALE_S:
                    new, word = FAILED, "completed without a result"
            else:
                self.unknown_since.pop(stage, None)
            failed_parent = next(
                (p for p in self.plan.job(stage).parents if self.rows[p].state in (FAILED, BLOCKED)), None
            )
            if new == FAILED and failed_parent is not None:  # SLURM cancelled it: its parent failed
                self.set(stage, BLOCKED, f"{failed_parent} failed", row.job_id)
                continue
            if new == row.state:
                continue
            self.set(stage, new, "" if new in (DONE, RUNNING) else word.lower(), row.job_id)
            if new == DONE:
                self.gpu_slots.pop(stage, None)
                worktree.remove(self.root, self.tree(stage))
            elif new == FAILED:
                self.gpu_slots.pop(stage, None)

    def settled(self) -> bool:
        return all(r.state in (DONE, FAILED, BLOCKED) for r in self.rows.values())

    def ordered_rows(self) -> list[Row]:
        return [self.rows[j.stage] for j in self.plan.jobs]

    def report_failures(self) -> None:
        for stage, row in self.rows.items():
            if row.state != FAILED or stage not in self.handles:
                continue
            handle = self.handles[stage]
            self.console.print(
                f"\nseenn submit: {stage} failed (job {row.job_id}, {row.note}); "
                f"the end of {handle.paths.stdout}:",
                highlight=False,
                style="bold red",
            )
            self.console.print(executors.log_tail(handle), highlight=False, markup=False)

    def run(self) -> int:
        title = f"seenn submit: {len(self.plan.jobs)} jobs ({self.kind})"
        self.adopt()
        with Display(self.console, title) as display:
            while True:
                self.submit_ready()
                display.update(self.ordered_rows())
                if self.settled() or not self.opts.wait:
                    break
                time.sleep(self.opts.poll_s)
                self.poll()
            display.final(self.ordered_rows())
        self.console.print(
            f"seenn submit: submitted {', '.join(self.submitted) or 'none'}; "
            f"followed from an earlier run: {', '.join(self.followed) or 'none'}",
            highlight=False,
        )
        self.report_failures()
        states = [r.state for r in self.rows.values()]
        if all(s == DONE for s in states):
            self.console.print(
                f"seenn submit: all {len(states)} jobs done; `dvc repro` now restores their results from the "
                "run-cache and makes the reports",
                highlight=False,
            )
            return 0
        if not self.opts.wait and not any(s in (FAILED, BLOCKED) for s in states):
            self.console.print(
                "seenn submit: jobs are on their way; run `seenn submit` again to follow them "
                "(and, on the local executor, to submit the ones waiting for their parents)",
                highlight=False,
            )
            return 0
        return 1


def submit(root: Path, opts: Options, console: Console | None = None) -> int:
    """The whole command; returns the exit status."""
    console = console or Console(soft_wrap=True)  # long lines (a log's) stay whole
    run_local_stages(root, console)
    plan = make_plan(root)
    entries = state.load(root)
    for stage in plan.restored:  # a recorded job whose result DVC now restores is over: its worktree goes
        if stage in entries:
            worktree.remove(root, root / entries[stage].worktree)
    if plan.restored:
        console.print(
            f"seenn submit: restored by `dvc repro` from the cache, no job: {', '.join(plan.restored)}",
            highlight=False,
        )
    if not plan.jobs:
        console.print(
            "seenn submit: no training stage to run; `dvc repro` restores or skips every one", highlight=False
        )
        return 0
    if opts.dry_run:
        for job in plan.jobs:
            after = f" after {', '.join(job.parents)}" if job.parents else ""
            console.print(f"would submit {job.stage}{after}: {job.cmd}", highlight=False, markup=False)
        return 0
    return Driver(root, plan, opts, console).run()
