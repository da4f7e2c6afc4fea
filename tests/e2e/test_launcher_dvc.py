"""The launcher is invisible to DVC: in a sandbox where `dvc repro` ran a training stage (one direct run,
one epoch), switching between one process and torchrun, by SEENN_LAUNCHER or by `.seenn/launcher`, leaves
`dvc status` clean, and the stage re-run by DVC under torchrun keeps its command in dvc.lock."""

from pathlib import Path

import pytest
import yaml

from tests.sandbox import make_sandbox, one_run, run

UP_TO_DATE = "Data and pipelines are up to date"
TARGET = "train_snn@r19"
STATUS = ["dvc", "status", "--with-deps", TARGET]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = make_sandbox(tmp_path_factory.mktemp("launcher"), one_run)
    run(["dvc", "repro", TARGET], project)  # check_params, data@digits, train_snn@r19
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "repro"], project)
    return project


def torchrun() -> dict[str, str]:
    return {"SEENN_LAUNCHER": "torchrun --standalone --nproc_per_node 2"}


def test_switching_the_launcher_leaves_dvc_status_clean(project):
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert lock[TARGET]["cmd"] == "seenn train-snn r19 --data data/digits --out runs/r19"
    assert UP_TO_DATE in run(STATUS, project).stdout
    assert UP_TO_DATE in run(STATUS, project, extra_env=torchrun()).stdout
    (project / ".seenn").mkdir()
    (project / ".seenn/launcher").write_text("torchrun --standalone --nproc_per_node 2\n")
    try:
        assert UP_TO_DATE in run(STATUS, project).stdout
        assert run(["git", "status", "--porcelain"], project).stdout == ""  # .seenn/ is git-ignored
        assert UP_TO_DATE in run(STATUS, project, extra_env={"SEENN_LAUNCHER": ""}).stdout
    finally:
        (project / ".seenn/launcher").unlink()


def test_a_stage_rerun_under_torchrun_is_up_to_date_for_the_plain_launcher(project):
    """DVC re-runs train_snn under torchrun (two processes: other float rounding, other weights);
    dvc.lock keeps the command, and the plain launcher finds the stage up to date."""
    model = project / "runs/r19/model.pt"
    before = model.read_bytes()
    out = run(["dvc", "repro", "--force", "--single-item", TARGET], project, extra_env=torchrun())
    assert f"Running stage '{TARGET}'" in out.stdout
    assert model.read_bytes() != before  # two processes did train (global batch, other rounding)
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert lock[TARGET]["cmd"] == "seenn train-snn r19 --data data/digits --out runs/r19"
    assert UP_TO_DATE in run(STATUS, project, extra_env={"SEENN_LAUNCHER": ""}).stdout
    run(["git", "checkout", "-q", "--", "dvc.lock"], project)
    run(["dvc", "checkout", "-q", "--force", TARGET], project)
    assert UP_TO_DATE in run(STATUS, project).stdout and model.read_bytes() == before
