"""The parts of `seenn submit` that need no cluster and no DVC run: the torchrun command a job builds,
job states read from submitit's files, the end of a failed job's log, the state file, and the worktree
snapshot of a workspace (end to end: tests/e2e/test_submit.py and test_submit_slurm.py)."""

import pickle
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.cluster import executors, state, worktree
from pipeline.cluster.job import JobSpec, launcher


def test_the_job_launcher_follows_gpus_and_nodes():
    spec = JobSpec("train_snn@r19", "seenn train-snn r19", "/wt", bin_dir="/venv/bin")
    assert launcher(spec, [], "7") == ""
    one = JobSpec("s", "c", "/wt", nodes=1, gpus_per_node=4, bin_dir="/venv/bin")
    assert launcher(one, [], "7") == "/venv/bin/torchrun --standalone --nproc_per_node 4"
    two = launcher(JobSpec("s", "c", "/wt", nodes=2, gpus_per_node=8, bin_dir="/venv/bin"), ["n1", "n2"], "7")
    assert two.startswith("/venv/bin/torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d")
    port = int(two.split("--rdzv-endpoint n1:")[1].split()[0])
    assert 29500 <= port < 30500 and two.endswith("--rdzv-id 7")


class FakeJob:
    def __init__(self, folder: Path, job_id: str, slurm_state: str = "UNKNOWN"):
        self.job_id = job_id
        self.paths = SimpleNamespace(
            result_pickle=folder / f"{job_id}_0_result.pkl",
            stdout=folder / f"{job_id}_0_log.out",
            stderr=folder / f"{job_id}_0_log.err",
        )
        self.watcher = SimpleNamespace(get_state=lambda job_id, mode: slurm_state)

    def result(self, outcome: str) -> "FakeJob":
        self.paths.result_pickle.write_bytes(pickle.dumps((outcome, "value")))
        return self


@pytest.mark.parametrize(
    "slurm_state,expected",
    [
        ("PENDING", executors.PENDING),
        ("RUNNING", executors.RUNNING),
        ("COMPLETING", executors.RUNNING),
        ("CANCELLED by 0", executors.FAILED),
        ("TIMEOUT", executors.FAILED),
        ("OUT_OF_MEMORY", executors.FAILED),
        ("COMPLETED", executors.UNKNOWN),  # its result file is on its way
        ("UNKNOWN", executors.UNKNOWN),
    ],
)
def test_slurm_states(tmp_path, slurm_state, expected):
    assert executors.state("slurm", FakeJob(tmp_path, "12", slurm_state))[0] == expected


def test_the_result_file_decides(tmp_path):
    assert (
        executors.state("slurm", FakeJob(tmp_path, "1", "COMPLETED").result("success"))[0] == executors.DONE
    )
    assert executors.state("slurm", FakeJob(tmp_path, "2", "FAILED").result("error"))[0] == executors.FAILED
    dead = 2**22 + 12345  # no such process
    assert executors.state("local", FakeJob(tmp_path, str(dead)))[0] == executors.FAILED
    assert executors.state("local", FakeJob(tmp_path, str(dead)).result("success"))[0] == executors.DONE
    proc = subprocess.Popen(["sleep", "30"])  # a local job this driver started: running until it ends
    job = FakeJob(tmp_path, str(proc.pid))
    assert executors.state("local", job)[0] == executors.RUNNING
    proc.kill()
    time.sleep(0.3)
    assert executors.state("local", job)[0] == executors.FAILED  # ended without a result file


def test_a_failed_jobs_log_ends_before_submitits_own_traceback(tmp_path):
    job = FakeJob(tmp_path, "3")
    lines = [f"epoch {i}" for i in range(40)] + ["error: direct.r19: loss is nan at epoch 40"]
    lines += [
        "submitit ERROR (2025) - Submitted job triggered an exception",
        "Traceback ...",
        "  File x",
        "RuntimeError: train_snn@r19: `dvc repro --single-item train_snn@r19` failed (255)",
    ]
    job.paths.stdout.write_text("\n".join(lines) + "\n")
    tail = executors.log_tail(job, lines=5).splitlines()
    assert tail[:5] == ["epoch 36", "epoch 37", "epoch 38", "epoch 39", lines[40]]
    assert tail[-1].startswith("RuntimeError: train_snn@r19") and "Traceback ..." not in tail


def test_the_state_file_round_trips_and_a_broken_one_is_empty(tmp_path):
    entry = state.Entry("k" * 64, "slurm", "4711", ".seenn/worktrees/x", "2025-01-01T00:00:00")
    state.save(tmp_path, {"train_snn@r19": entry})
    assert state.load(tmp_path) == {"train_snn@r19": entry}
    (tmp_path / state.STATE).write_text("{not json")
    assert state.load(tmp_path) == {}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_a_worktree_is_a_snapshot_of_the_workspace_on_the_shared_cache(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    (root / ".gitignore").write_text("/.seenn/\n/checkpoints/\n")
    (root / "params.yaml").write_text("seed: 0\n")
    (root / "gone.txt").write_text("deleted in the workspace\n")
    (root / ".dvc").mkdir()
    (root / ".dvc/config").write_text("[core]\n    no_scm = false\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (root / "params.yaml").write_text("seed: 1\n")  # modified
    (root / "new.py").write_text("x = 1\n")  # untracked, not ignored
    (root / "gone.txt").unlink()
    (root / "checkpoints").mkdir()
    (root / "checkpoints/big.pt").write_text("ignored: stays out\n")
    tree = worktree.worktree_path(root, "train_snn@r19", "ab" * 32)
    worktree.prepare(root, tree, tmp_path / "cache")
    assert (tree / "params.yaml").read_text() == "seed: 1\n" and (tree / "new.py").is_file()
    assert not (tree / "gone.txt").exists() and not (tree / "checkpoints").exists()
    assert f"dir = {tmp_path / 'cache'}" in (tree / ".dvc/config.local").read_text()
    (tree / "checkpoints").mkdir()
    (tree / "checkpoints/r19.pt").write_text("a job's checkpoint")
    (root / "params.yaml").write_text("seed: 2\n")
    worktree.prepare(root, tree, tmp_path / "cache")  # again for the same key: refreshed, checkpoint kept
    assert (tree / "params.yaml").read_text() == "seed: 2\n" and (tree / "checkpoints/r19.pt").is_file()
    worktree.remove(root, tree)
    assert not tree.exists()
