"""`seenn submit --executor slurm` against a real one-node SLURM on this machine (started by
tests/e2e/slurm/start-slurm.sh, which needs root and apt; skipped with its reason where SLURM cannot be
had): the jobs go through sbatch, the finetunes wait for train_snn with `--dependency=afterok`, and
`dvc repro` afterwards restores every training stage from the run-cache."""

import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_submit import TRAINING, cached_stages, jobs_of, ran_stages
from tests.sandbox import make_sandbox, one_run, run

SCRIPTS = Path(__file__).parent / "slurm"


def _running() -> bool:
    try:
        return "UP" in subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="module")
def slurm():
    was_running = _running()
    try:
        proc = subprocess.run(
            ["bash", str(SCRIPTS / "start-slurm.sh")], capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        pytest.skip("SLURM cannot be started here: start-slurm.sh took over 300 s")
    if proc.returncode != 0:
        reason = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        pytest.skip(f"SLURM cannot be started here (start-slurm.sh exit {proc.returncode}): {reason[0]}")
    yield
    if not was_running:
        subprocess.run(["bash", str(SCRIPTS / "stop-slurm.sh")], capture_output=True, timeout=60)


def test_submit_through_sbatch_then_repro_restores_everything(slurm, tmp_path):
    project = make_sandbox(tmp_path, one_run)
    proc = run(
        ["seenn", "submit", "--executor", "slurm", "--partition", "debug", "--time", "30", "--poll", "1"],
        project,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    jobs = jobs_of(project)
    assert {s.split("@")[0] for s in jobs} == {"train_snn", "finetune", "finetune_grid"}, out
    scripts = {
        p.parent.name: p.read_text() for p in (project / ".seenn/submit/logs").glob("*/*_submission.sh")
    }
    parent = jobs["train_snn@r19"]
    assert "--dependency" not in scripts[parent]
    for stage, job_id in jobs.items():
        assert f"#SBATCH --job-name={stage}" in scripts[job_id]
        if stage != "train_snn@r19":
            assert f"#SBATCH --dependency=afterok:{parent}" in scripts[job_id], scripts[job_id]
    repro = run(["dvc", "repro"], project).stdout
    assert not [s for s in ran_stages(repro) if s.startswith(TRAINING)], repro
    assert sorted(cached_stages(repro)) == sorted(jobs), repro
