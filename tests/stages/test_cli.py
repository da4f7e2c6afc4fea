"""Every `seenn` command through Typer's CliRunner, on a tiny configuration in a temporary folder."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from stages.cli import app

TINY = {
    "seed": 0,
    "device": "cpu",
    "alpha": 0.9,
    "beta": 0.1,
    "data": {"digits": {"test_fraction": 0.3}, "digits_dvs": {"frames": 2, "saccade_steps": 8}},
    "conversion": {
        "c1": {
            "dataset": "digits",
            "model": "resnet20",
            "width": 0.25,
            "T": 3,
            "epochs": 1,
            "qcfs_lambda": 2.0,
        }
    },
    "direct": {
        "d1": {"dataset": "digits", "model": "resnet8", "width": 0.5, "T": 2, "epochs": 1},
        "e1": {"dataset": "digits_dvs", "model": "vggsnn", "width": 0.0625, "T": 2, "epochs": 1},
    },
    "sweep": {"alphas": [0.5, 0.9, 0.99, 0.999]},
    "tables": {"alphas": [0.99, 0.999], "timesteps": [1]},
}

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with the tiny params where the whole chain of commands has been run once."""
    folder = tmp_path_factory.mktemp("cli")
    (folder / "params.yaml").write_text(yaml.safe_dump(TINY))
    p = str(folder / "params.yaml")
    steps = [
        ["check-params", "--params", p, "--out", str(folder / "build/ok.txt")],
        ["data", "digits", "--out", str(folder / "data/digits"), "--params", p],
        ["data", "digits_dvs", "--out", str(folder / "data/digits_dvs"), "--params", p],
        [
            "pretrain-ann",
            "c1",
            "--data",
            str(folder / "data/digits"),
            "--out",
            str(folder / "runs/c1-ann"),
            "--params",
            p,
        ],
        [
            "convert",
            "c1",
            "--ann",
            str(folder / "runs/c1-ann"),
            "--data",
            str(folder / "data/digits"),
            "--out",
            str(folder / "runs/c1"),
            "--params",
            p,
        ],
        [
            "train-snn",
            "d1",
            "--data",
            str(folder / "data/digits"),
            "--out",
            str(folder / "runs/d1"),
            "--params",
            p,
        ],
        [
            "train-snn",
            "e1",
            "--data",
            str(folder / "data/digits_dvs"),
            "--out",
            str(folder / "runs/e1"),
            "--params",
            p,
        ],
        *[["sweep", str(folder / f"runs/{r}"), "--params", p] for r in ("c1", "d1", "e1")],
        [
            "tables",
            "--runs",
            str(folder / "runs"),
            "--out",
            str(folder / "reports/tables"),
            "--metrics",
            str(folder / "reports/metrics.json"),
            "--params",
            p,
        ],
        [
            "figures",
            "--runs",
            str(folder / "runs"),
            "--out",
            str(folder / "reports/figures"),
            "--curves",
            str(folder / "reports/curves"),
            "--params",
            p,
        ],
    ]
    for step in steps:
        result = invoke(*step)
        assert result.exit_code == 0, f"{step[0]}: {result.output}"
    return folder


def test_help_lists_every_stage():
    """`seenn --help` names every stage command."""
    out = invoke("--help").output
    for name in (
        "check-params",
        "data",
        "pretrain-ann",
        "convert",
        "train-snn",
        "sweep",
        "tables",
        "figures",
    ):
        assert name in out


def test_chain_writes_run_folders(workdir):
    """Training and conversion write timestep logits [T, N, C], run.json and provenance."""
    for run, T in (("c1", 3), ("d1", 2), ("e1", 2)):
        with np.load(workdir / f"runs/{run}/timestep_logits.npz") as z:
            assert z["logits"].shape == (T, 540, 10) and z["logits"].dtype == np.float32
            assert z["labels"].dtype == np.int64
        record = json.loads((workdir / f"runs/{run}/run.json").read_text())
        assert record["T"] == T and record["run"] == run
        prov = json.loads((workdir / f"runs/{run}/provenance.json").read_text())
        assert prov["seed"] == 0 and "torch" in prov["versions"]
    assert json.loads((workdir / "runs/e1/run.json").read_text())["simulated"] is True


def test_chain_writes_sweep_and_reports(workdir):
    """The sweep has fixed rows for every T and SEENN-I rows for the grid plus the headline alpha."""
    sweep = pd.read_csv(workdir / "runs/d1/sweep.csv")
    assert list(sweep.columns) == [
        "policy",
        "param",
        "accuracy",
        "avg_timesteps",
        "n",
        "accuracy_low",
        "accuracy_high",
        "avg_timesteps_low",
        "avg_timesteps_high",
    ]
    assert sorted(sweep[sweep.policy == "fixed"].param) == [1, 2]
    assert sorted(sweep[sweep.policy == "seenn1"].param) == [0.5, 0.9, 0.99, 0.999]
    aet = json.loads((workdir / "runs/d1/aet.json").read_text())
    assert 1 <= aet["empirical_aet"] <= aet["aet"] <= 2
    assert (workdir / "reports/tables/table5.md").is_file()
    assert (workdir / "reports/figures/figure4.pdf").is_file()
    assert set(json.loads((workdir / "reports/metrics.json").read_text())) == {"c1", "d1", "e1"}


def test_training_is_deterministic(workdir, tmp_path):
    """The same params train the same network: identical logits on the CPU."""
    p = str(workdir / "params.yaml")
    out = tmp_path / "d1"
    assert (
        invoke(
            "train-snn", "d1", "--data", str(workdir / "data/digits"), "--out", str(out), "--params", p
        ).exit_code
        == 0
    )
    with np.load(out / "timestep_logits.npz") as a, np.load(workdir / "runs/d1/timestep_logits.npz") as b:
        assert np.array_equal(a["logits"], b["logits"])


@pytest.mark.parametrize(
    "args,needle",
    [
        (
            ["train-snn", "nope", "--data", "data/digits", "--out", "runs/nope"],
            "run 'nope' is not in `direct`",
        ),
        (
            ["pretrain-ann", "d1", "--data", "data/digits", "--out", "runs/x"],
            "run 'd1' is not in `conversion`",
        ),
        (["train-snn", "e1", "--data", "data/digits", "--out", "runs/x"], "holds 'digits'"),
        (["sweep", "runs/missing"], "timestep_logits.npz is missing"),
        (["data", "mnist", "--out", "data/mnist"], "dataset 'mnist' is not known"),
    ],
)
def test_bad_invocations_fail_with_one_line(workdir, monkeypatch, args, needle):
    """A wrong run name, dataset folder or missing input stops with exit 2 and one line saying why."""
    monkeypatch.chdir(workdir)
    result = invoke(*args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output
