"""Failure safety: a stage that dies half-way (SIGKILL under `dvc repro`, or a bad input) leaves every
other output byte-identical, never a half-written file, and a pipeline that `dvc checkout` or `dvc repro`
brings back to exactly the bytes it had.

One shrunk sandbox (two direct runs on digits, one SEENN-II finetune, no conversion, ~35 s) is
reproduced once; each scenario works on its own copy of it. Commands run the sandbox's own copy of the
code (PYTHONPATH), so the DVC lock and the code that ran agree.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.sandbox import make_sandbox, sandbox_env
from pipeline.core.atomic import write_atomic

WATCHED = ("data", "runs", "reports")  # every stage output lives here
KILLED = "d1"  # the run whose training is killed
TRAIN_OUTS = ("model.pt", "timestep_logits.npz", "train_logits.npz", "run.json", "provenance.json")


def shrink(params: dict) -> None:
    """Two tiny direct runs (d1 long enough to be killed after its first epoch), one SEENN-II finetune."""
    params["device"] = "cpu"
    params["data"] = {"digits": params["data"]["digits"]}
    params["conversion"] = {}
    params["direct"] = {
        KILLED: {"dataset": "digits", "model": "resnet8", "width": 0.5, "T": 2, "epochs": 3},
        "d2": {"dataset": "digits", "model": "resnet8", "width": 0.25, "T": 2, "epochs": 1},
    }
    params["seenn2"].update(runs=["d2"], betas=[2.0], epochs=1)
    params["hardware"] = {"test_inputs": 64}
    params["cpu"]["threads"] = 1


def env_for(project: Path) -> dict[str, str]:
    env = sandbox_env()
    env["PYTHONPATH"] = str(project)  # the editable install would otherwise run the checkout's code
    env["OMP_NUM_THREADS"] = "1"  # tiny models: one thread is fastest; spinning threads crawl on a busy CPU
    return env


def sh(cmd: list[str], project: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=project, env=env_for(project), capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def digest(project: Path) -> dict[str, str]:
    """sha256 of every file under data/, runs/ and reports/, by relative path."""
    return {
        p.relative_to(project).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in WATCHED
        for p in sorted((project / folder).rglob("*"))
        if p.is_file()
    }


def hidden_files(project: Path) -> list[str]:
    """Leftover temporary files (pipeline.core.atomic writes `.<name>.<random><suffix>` next to the
    target)."""
    return [
        p.relative_to(project).as_posix()
        for f in WATCHED
        for p in (project / f).rglob(".*")
        if p.name != ".gitignore"  # DVC's own
    ]


def changed_paths(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def copy_project(project: Path, dest: Path) -> Path:
    target = dest / "project"
    shutil.copytree(project, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The shrunk sandbox reproduced up to the tables and figures (not committed: a re-run must see the
    same git commit, which provenance.json records)."""
    project = make_sandbox(tmp_path_factory.mktemp("failsafe"), shrink)
    sh(["dvc", "repro", "tables", "figures"], project)
    return project


@pytest.fixture(scope="module")
def killed(pristine, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy where `dvc repro -f -s train_snn@d1` was SIGKILLed (DVC and the stage) after the stage's
    first checkpoint; returns the copy and its digest from before."""
    project = copy_project(pristine, tmp_path_factory.mktemp("killed"))
    before = digest(project)
    checkpoint = project / "checkpoints" / f"runs__{KILLED}.pt"
    proc = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", f"train_snn@{KILLED}"],
        cwd=project,
        env=env_for(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 180
    while not checkpoint.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: dvc, its shell and the stage
    except ProcessLookupError:
        pass
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the stage ended before it could be killed"
    assert checkpoint.is_file(), "killed before the first checkpoint"
    return project, before


def test_killed_training_stage_leaves_every_other_output_byte_identical(killed):
    """Only the killed run's folder changed; its declared outputs are gone or intact, never half-written;
    no temporary file is left; the checkpoint to resume from is there."""
    project, before = killed
    after = digest(project)
    changed = changed_paths(before, after)
    assert changed and all(path.startswith(f"runs/{KILLED}/") for path in changed), changed
    for name in TRAIN_OUTS:
        path = f"runs/{KILLED}/{name}"
        assert after.get(path) in (None, before[path]), f"{path} half-written"
    assert hidden_files(project) == []
    state = torch.load(project / "checkpoints" / f"runs__{KILLED}.pt", map_location="cpu", weights_only=False)
    assert 1 <= state["next_epoch"] < 3


def test_dvc_checkout_after_a_killed_stage_restores_every_byte(killed, tmp_path):
    """`dvc checkout --force <stage>` puts the killed stage's previous outputs back: the tree is
    byte-identical to before and `dvc status` finds the pipeline up to date."""
    project, before = killed
    project = copy_project(project, tmp_path)
    sh(["dvc", "checkout", "--force", f"train_snn@{KILLED}"], project)
    changed = changed_paths(before, digest(project))
    assert changed == [], f"not restored by dvc checkout (undeclared outputs?): {changed}"
    status = sh(["dvc", "status", "tables", "figures"], project).stdout
    assert "up to date" in status, status


def test_dvc_repro_after_a_killed_stage_restores_every_byte(killed, tmp_path):
    """Plain `dvc repro` after the kill: the lock still matches, so DVC checks the stage's previous
    outputs back out of its cache; the tree ends byte-identical to before."""
    project, before = killed
    project = copy_project(project, tmp_path)
    out = sh(["dvc", "repro", "tables", "figures"], project).stdout
    assert f"Stage 'train_snn@{KILLED}' is cached" in out, out
    changed = changed_paths(before, digest(project))
    assert changed == [], f"not restored by dvc repro (undeclared outputs?): {changed}"


def test_forced_rerun_after_a_killed_stage_resumes_to_the_same_bytes(killed, tmp_path):
    """Running the killed stage again (as a new experiment would) resumes from its checkpoint, ends
    byte-identical and removes the checkpoint."""
    project, before = killed
    project = copy_project(project, tmp_path)
    proc = sh(["dvc", "repro", "-f", "-s", f"train_snn@{KILLED}"], project)
    assert "resuming from" in proc.stdout + proc.stderr
    assert digest(project) == before
    assert not (project / "checkpoints" / f"runs__{KILLED}.pt").exists()


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])


def _wrong_shape(path: Path) -> None:
    with np.load(path) as z:
        logits, labels = z["logits"], z["labels"]
    np.savez(path, logits=np.concatenate([logits, logits[:1]]), labels=labels)  # T + 1 steps


# (file the tables stage reads, how it is broken). runs/d2 is the last run folder it reads and
# runs/d2-seenn2-b2.0 the last SEENN-II folder.
BAD_INPUTS = {
    "truncated_npz": ("runs/d2/timestep_logits.npz", _truncate),
    "wrong_shape_npz": ("runs/d2/timestep_logits.npz", _wrong_shape),
    "truncated_json": ("runs/d2/aet.json", lambda p: _truncate(p, 0.3)),
    "truncated_seenn2_csv": ("runs/d2-seenn2-b2.0/seenn2.csv", lambda p: _truncate(p, 0.02)),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_tables_with_a_bad_input_fails_in_one_line_and_writes_nothing(pristine, tmp_path, case):
    """`seenn tables` on a broken run file: exit 2, one line naming the file, every report untouched."""
    project = copy_project(pristine, tmp_path)
    relative, corrupt = BAD_INPUTS[case]
    corrupt(project / relative)
    before = {k: v for k, v in digest(project).items() if k.startswith("reports/")}
    tables = ["--runs", "runs", "--out", "reports/tables", "--metrics", "reports/metrics.json"]
    proc = sh(["seenn", "tables", *tables], project, check=False)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stdout + proc.stderr
    assert lines[0].startswith("error: ") and relative in lines[0], lines[0]
    assert {k: v for k, v in digest(project).items() if k.startswith("reports/")} == before
    assert hidden_files(project) == []


@pytest.mark.parametrize(
    "stage,outputs",
    [
        ("tables", ("reports/tables", "reports/metrics.json")),
        ("figures", ("reports/figures", "reports/curves")),
    ],
)
def test_report_stage_failing_under_dvc_keeps_previous_reports(pristine, tmp_path, stage, outputs):
    """Under `dvc repro` too, a report stage that fails on a bad input leaves its previous reports in
    place, byte-identical (they are not in DVC's cache, so nothing could restore them)."""
    project = copy_project(pristine, tmp_path)
    _wrong_shape(project / "runs/d2/timestep_logits.npz")
    before = {k: v for k, v in digest(project).items() if k.startswith(outputs)}
    proc = sh(["dvc", "repro", "-s", stage], project, check=False)
    assert proc.returncode != 0, proc.stdout
    after = {k: v for k, v in digest(project).items() if k.startswith(outputs)}
    assert after == before, f"{stage} outputs deleted or changed: {sorted(before.keys() - after.keys())[:4]}"
    assert hidden_files(project) == []


def test_write_atomic_failing_half_way_keeps_the_old_file(tmp_path):
    """The one write path of every stage: a writer that fails after writing part of the new content
    leaves the previous file as it was and no temporary file."""
    target = tmp_path / "table1.csv"
    target.write_text("old,content\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("new,con")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old,content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table1.csv"]
