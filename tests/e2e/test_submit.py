"""`seenn submit --executor local` end to end, in sandboxes of a shrunk embedded default (one conversion
run, one direct run, its SEENN-II finetune and one grid beta, one epoch each, and a second seed of both
runs: eight training jobs).

The submission is interrupted (the driver killed as soon as a job is recorded) and run again: only the
missing jobs are submitted, the recorded one is followed. Then `dvc repro` runs no training stage, every
one comes from the run-cache, and the tables equal a plain `dvc repro` in another sandbox.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pipeline.cluster.plan import TRAINING_GROUPS
from tests.sandbox import make_sandbox, run, sandbox_env, tiny

TRAINING = tuple(f"{group}@" for group in TRAINING_GROUPS)  # stage-name prefixes of the training stages
STATE = Path(".seenn/submit/state.json")


def small(params: dict) -> None:
    tiny(params)
    params["conversion"] = dict(list(params["conversion"].items())[:1])
    params["direct"] = {"r19": params["direct"]["r19"]}
    params["seenn2"]["runs"] = ["r19"]
    params["extra_seeds"] = [1]  # a second seed: the replicas are jobs too, and the tables show mean +- std


def jobs_of(project: Path) -> dict[str, str]:
    """Stage -> job id, from the state file."""
    try:
        raw = yaml.safe_load((project / STATE).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return {stage: entry["job_id"] for stage, entry in (raw or {}).get("jobs", {}).items()}


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def cached_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if "is cached - skipping run" in line]


SUBMIT = ["seenn", "submit", "--executor", "local", "--poll", "0.5"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    project = make_sandbox(tmp_path_factory.mktemp("plain"), small)
    run(["dvc", "repro"], project)
    return project


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> dict:
    """A sandbox where `seenn submit` was killed after its first job, then run again to the end."""
    project = make_sandbox(tmp_path_factory.mktemp("submit"), small)
    driver = subprocess.Popen(
        [*SUBMIT, "--parallel", "1"],
        cwd=project,
        env=sandbox_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 120
    while not jobs_of(project) and driver.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    first = jobs_of(project)
    os.kill(driver.pid, signal.SIGKILL)  # the driver only: its local job goes on, as an orphan
    driver.communicate()
    assert len(first) == 1, first
    again = run([*SUBMIT, "--parallel", "2"], project)
    return {"project": project, "first": first, "again": again.stdout + again.stderr}


def test_an_interrupted_submit_submits_only_what_is_missing(submitted):
    """The job recorded before the interruption is not submitted again: it is followed (still running
    when the second `seenn submit` planned) or already in the cache (done by then). Every other training
    stage is submitted once, and all end done."""
    project, first, out = submitted["project"], submitted["first"], submitted["again"]
    ((stage, job_id),) = first.items()
    final = jobs_of(project)
    assert final[stage] == job_id, out
    assert {s.split("@")[0] for s in final} == {
        "pretrain_ann",
        "convert",
        "train_snn",
        "pretrain_ann_seed",
        "convert_seed",
        "train_snn_seed",
        "finetune",
        "finetune_grid",
    }, final
    line = next(line for line in out.splitlines() if line.startswith("seenn submit: submitted"))
    again = line.removeprefix("seenn submit: submitted ").split(";")[0].split(", ")
    assert sorted(again) == sorted(s for s in final if s != stage), out
    followed = f"followed from an earlier run: {stage}" in out
    restored = any(
        line.startswith("seenn submit: restored by `dvc repro`") and stage in line
        for line in out.splitlines()
    )
    assert followed != restored, out
    assert f"all {len(again) + followed} jobs done" in out, out
    assert not list((project / ".seenn/worktrees").glob("*")), "a finished job's worktree stays"


def test_repro_afterwards_runs_no_training_stage_and_gives_the_same_tables(submitted, plain):
    """`dvc repro` in the workspace restores every training stage from the run-cache, runs the sweeps
    and reports, and its tables are byte-identical to a plain `dvc repro` of the same params."""
    project = submitted["project"]
    out = run(["dvc", "repro"], project).stdout
    assert not [s for s in ran_stages(out) if s.startswith(TRAINING)], out
    assert sorted(cached_stages(out)) == sorted(jobs_of(project)), out
    assert "tables" in ran_stages(out)
    tables = sorted(p.name for p in (plain / "reports/tables").glob("*.csv"))
    assert tables
    for name in tables:
        assert (project / "reports/tables" / name).read_bytes() == (
            plain / "reports/tables" / name
        ).read_bytes(), name
    lock, plain_lock = (yaml.safe_load((p / "dvc.lock").read_text())["stages"] for p in (project, plain))
    for stage in jobs_of(project):  # the trained files too (provenance.json names each sandbox's commit)
        outs = [
            [o for o in lk[stage]["outs"] if not o["path"].endswith("provenance.json")]
            for lk in (lock, plain_lock)
        ]
        assert outs[0] == outs[1], stage


def test_two_seeds_give_mean_and_std_over_the_seeds(plain):
    """With extra_seeds [1], each run is trained again with seed 1 into runs/<run>-seed1, and the tables'
    cells are the mean +- std over the two seeds, marked [2 seeds]; the mean is that of the two run
    folders' own sweeps."""
    import pandas as pd

    assert (plain / "runs/r19-seed1/model.pt").is_file() and (plain / "runs/r18-qcfs-seed1/sweep.csv").is_file()
    table1 = pd.read_csv(plain / "reports/tables/table1.csv")
    cell = table1[(table1.run == "r19") & (table1.policy == "fixed") & (table1.param == 4)].iloc[0]
    sweeps = [pd.read_csv(plain / f"runs/{name}/sweep.csv") for name in ("r19", "r19-seed1")]
    accs = [100 * s[(s.policy == "fixed") & (s.param == 4)].accuracy.iloc[0] for s in sweeps]
    assert cell.n_seeds == 2 and cell.ours_accuracy == pytest.approx(sum(accs) / 2)
    assert "[2 seeds]" in (plain / "reports/tables/table1.md").read_text()
    assert "[2 seeds]" in (plain / "reports/tables/table2.md").read_text()


def test_nothing_is_left_to_submit_afterwards(submitted):
    out = run(SUBMIT, submitted["project"]).stdout
    assert "no training stage to run" in out, out


def test_a_failed_job_is_reported_with_its_log_and_blocks_its_children(tmp_path):
    """A training stage that fails in its job: the command exits 1, names the job and prints the end of
    its log; the stages after it are not submitted; its worktree stays for a look."""

    def one_run(params):
        small(params)
        params["conversion"] = {}
        params["extra_seeds"] = []

    project = make_sandbox(tmp_path, one_run)
    stage_file = project / "stages/train_snn.py"
    stage_file.write_text(
        stage_file.read_text().replace(
            "    p = with_seed(load_params(params), seed)\n",
            "    raise RuntimeError('boom: a broken training stage')\n",
            1,
        )
    )
    proc = run(SUBMIT, project, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "seenn submit: train_snn@r19 failed" in out and "boom: a broken training stage" in out, out
    assert set(jobs_of(project)) == {"train_snn@r19"}, out  # the finetunes never started
    assert "blocked" in out and "train_snn@r19 failed" in out
    assert len(list((project / ".seenn/worktrees").glob("train_snn@r19.*"))) == 1
