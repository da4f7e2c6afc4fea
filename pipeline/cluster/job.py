"""What a job runs, on the node, in its worktree: bring the stage's inputs from the shared DVC cache,
then `dvc repro --single-item <stage>`, the stage's own command run by DVC, which stores the results in
the cache and the run-cache.

The inputs are the outputs of the stages upstream (a data stage that ran in the workspace, the
train_snn job a finetune waited for). DVC restores each from the cache; one that is not there stops the
job with one line instead of training it again here. With several GPUs or nodes the stage's `seenn`
command re-launches itself under torchrun (pipeline/core/launcher.py): the job sets `SEENN_LAUNCHER`,
with the rendezvous on the job's first node; on the other nodes the job starts the same command, whose
torchrun joins that rendezvous, while DVC runs on the first node only.
"""

import os
import shlex
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JobSpec:
    stage: str
    cmd: str  # the stage's command (for the nodes after the first)
    worktree: str
    nodes: int = 1
    gpus_per_node: int = 0
    bin_dir: str = str(Path(sys.executable).parent)  # the environment's `dvc`, `seenn`, `torchrun`


def launcher(spec: JobSpec, hosts: list[str], job_id: str) -> str:
    """SEENN_LAUNCHER for this job: empty (one process), one node's GPUs, or a rendezvous over nodes."""
    if spec.nodes * spec.gpus_per_node <= 1:
        return ""
    torchrun = str(Path(spec.bin_dir) / "torchrun")
    if spec.nodes == 1:
        return f"{torchrun} --standalone --nproc_per_node {spec.gpus_per_node}"
    port = 29500 + zlib.crc32(job_id.encode()) % 1000  # two jobs on one node must not share a port
    return (
        f"{torchrun} --nnodes {spec.nodes} --nproc_per_node {spec.gpus_per_node} --rdzv-backend c10d "
        f"--rdzv-endpoint {hosts[0]}:{port} --rdzv-id {shlex.quote(job_id)}"
    )


def job_env(spec: JobSpec, launch: str) -> dict[str, str]:
    """The stage's environment: this Python environment's tools first, the worktree's own code (the
    snapshot DVC hashed, ahead of an editable install of another checkout), the launcher."""
    env = dict(os.environ)
    env["PATH"] = spec.bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (spec.worktree, env.get("PYTHONPATH", "")) if p)
    env["SEENN_LAUNCHER"] = launch
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def restore_upstream(spec: JobSpec) -> list[str]:
    """Check out every input of the stage from the shared cache, upstream first (DVC's restore: from
    dvc.lock's entry, else from the run-cache); return what was restored."""
    from dvc.repo import Repo
    from dvc.stage.cache import RunCacheNotFoundError

    from pipeline.cluster.plan import upstream, upstream_first

    restored = []
    os.chdir(spec.worktree)  # DVC resolves some stage paths against the working directory
    with Repo(spec.worktree) as repo, repo.lock:
        graph = repo.index.graph
        target = next(s for s in graph if s.name == spec.stage)
        above = upstream(graph, target)
        for stage in upstream_first(graph):
            if stage not in above or stage.frozen or not stage.changed():
                continue
            try:
                repo.stage_cache.restore(stage)
            except RunCacheNotFoundError:
                raise RuntimeError(
                    f"{spec.stage}: its input stage {stage.name} has no result in the shared DVC cache "
                    f"(did its job finish? run `dvc repro {stage.name}` in the workspace)"
                ) from None
            restored.append(stage.name)
    return restored


def run_job(spec: JobSpec) -> str:
    """The job's body (submitit pickles this call); raises when the stage fails."""
    import submitit

    env = submitit.JobEnvironment() if spec.nodes > 1 else None
    node = env.node if env is not None else 0
    hosts = env.hostnames if env is not None else []
    job_id = env.job_id if env is not None else os.environ.get("SLURM_JOB_ID", str(os.getpid()))
    stage_env = job_env(spec, launcher(spec, hosts, job_id))
    if node > 0:  # a worker node: the same command; its torchrun joins the first node's rendezvous
        subprocess.run(spec.cmd, shell=True, cwd=spec.worktree, env=stage_env, check=True)
        return f"{spec.stage}: node {node} done"
    restored = restore_upstream(spec)
    print(
        f"seenn submit: {spec.stage}: inputs from the cache: {', '.join(restored) or 'none needed'}",
        flush=True,
    )
    dvc = str(Path(spec.bin_dir) / "dvc")
    proc = subprocess.run([dvc, "repro", "--single-item", spec.stage], cwd=spec.worktree, env=stage_env)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.stage}: `dvc repro --single-item {spec.stage}` failed ({proc.returncode})")
    return f"{spec.stage}: done"
