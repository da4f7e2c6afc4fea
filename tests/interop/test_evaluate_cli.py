"""`seenn evaluate`: what it writes on good input, and one-line refusals, before any output, on bad input."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stages.cli import build_app

T, N, C = 4, 60, 5


def outputs(path, T=T, N=N, C=C, seed=0, **override):
    """Random per-step outputs with a signal on the true class, saved as `seenn evaluate` reads them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, N)
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    logits[:, np.arange(N), labels] += 1.0
    arrays = {"logits": logits, "labels": labels} | override
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def run(*args):
    result = CliRunner().invoke(build_app("evaluate"), ["evaluate", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_writes_the_sweep_the_table_and_the_figure(tmp_path):
    test, val = outputs(tmp_path / "test.npz"), outputs(tmp_path / "val.npz", N=40, seed=1)
    train = outputs(tmp_path / "train.npz", N=80, seed=2)
    out = tmp_path / "out"
    code, stdout, stderr = run(test, "--val", val, "--train", train, "--out", out, "--name", "net-a")
    assert code == 0, stderr
    assert "evaluate: net-a: T=4, 60 test inputs" in stdout
    for name in ("exit_policies.md", "exit_policies.csv", "exit_policies.png", "exit_policies.pdf"):
        assert (out / name).stat().st_size > 0, name
    for name in ("fixed", "seenn1", "topk", "topk_calibrated", "entropy", "oracle"):
        curve = pd.read_csv(out / "curves" / f"{name}.csv")
        assert list(curve.columns) == ["param", "avg_timesteps", "accuracy_pct"], name
    sweep = pd.read_csv(out / "run" / "sweep.csv")
    assert set(sweep.policy) == {"fixed", "seenn1", "topk", "topk_calibrated", "entropy", "oracle"}
    aet = json.loads((out / "run" / "aet.json").read_text())
    assert aet["T"] == T and 1 <= aet["empirical_aet"] <= aet["aet"] <= T
    tidy = pd.read_csv(out / "exit_policies.csv")
    assert set(tidy.run) == {"net-a"}
    assert "net-a on user data" in (out / "exit_policies.md").read_text()
    with np.load(out / "run" / "val_logits.npz") as z:
        assert z["logits"].shape == (T, 40, C)
    # again without the training set: calibrated Top-K and its inputs are gone, not left over
    code, _, stderr = run(test, "--out", out, "--name", "net-a", "--method", "conversion")
    assert code == 0, stderr
    assert not (out / "curves" / "topk_calibrated.csv").exists()
    assert not (out / "run" / "train_logits.npz").exists()
    assert json.loads((out / "run" / "run.json").read_text())["method"] == "conversion"


def test_options_change_the_sweep(tmp_path):
    test, out = outputs(tmp_path / "test.npz"), tmp_path / "out"
    code, _, stderr = run(test, "--out", out, "--alphas", 0.6, "--alphas", 0.75, "--alpha", 0.9)
    assert code == 0, stderr
    sweep = pd.read_csv(out / "run" / "sweep.csv")
    assert sorted(sweep[sweep.policy == "seenn1"].param) == [0.6, 0.75, 0.9]


BAD = {
    "wrong shape": (
        dict(logits=np.zeros((N, C), np.float32)),
        "'logits' has shape (60, 5); allowed: [T, N, C]",
    ),
    "integer logits": (
        dict(logits=np.zeros((T, N, C), np.int64)),
        "'logits' has dtype int64; allowed: a float",
    ),
    "NaN": (dict(logits=np.full((T, N, C), np.nan, np.float32)), "1200 NaN or infinite value(s)"),
    "inf": (dict(logits=np.full((T, N, C), np.inf, np.float32)), "NaN or infinite"),
    "labels out of range": (dict(labels=np.full(N, C)), "'labels' range over 5..5; allowed: 0..4 (C = 5)"),
    "negative labels": (dict(labels=np.full(N, -1)), "'labels' range over -1..-1; allowed: 0..4"),
    "float labels": (dict(labels=np.zeros(N, np.float32)), "'labels' has dtype float32; allowed: an integer"),
    "T = 1": (
        dict(logits=np.zeros((1, N, C), np.float32)),
        "'logits' has T = 1 timestep(s); early exit needs T >= 2",
    ),
    "N mismatch": (dict(labels=np.zeros(N - 1, np.int64)), "'labels' has 59 entries but 'logits' has N = 60"),
    "no labels": (dict(labels=None), "no array 'labels'"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_test_outputs_fail_in_one_line_before_writing(tmp_path, case):
    override, message = BAD[case]
    test = outputs(tmp_path / "test.npz", **override)
    code, stdout, stderr = run(test, "--out", tmp_path / "out")
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: {test}: "), stderr
    assert message in stderr
    assert not (tmp_path / "out").exists()


def test_bad_validation_or_training_sets(tmp_path):
    test = outputs(tmp_path / "test.npz")
    cases = [
        ("--val", outputs(tmp_path / "v1.npz", C=C + 1), "(validation set): 'logits' has C = 6 classes but"),
        (
            "--val",
            outputs(tmp_path / "v2.npz", T=T + 2),
            "(validation set): 'logits' has T = 6 timesteps but",
        ),
        ("--train", outputs(tmp_path / "t1.npz", C=C - 2), "(training set): 'logits' has C = 3 classes but"),
        ("--val", tmp_path / "absent.npz", "absent.npz: no such file"),
    ]
    for option, path, message in cases:
        code, _, stderr = run(test, option, path, "--out", tmp_path / "out")
        assert code == 2 and stderr.count("\n") == 1 and message in stderr, (option, path, stderr)
        assert not (tmp_path / "out").exists()
    (tmp_path / "junk.npz").write_text("not a zip")
    code, _, stderr = run(tmp_path / "junk.npz", "--out", tmp_path / "out")
    assert code == 2 and "junk.npz: not a readable .npz" in stderr and stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--alpha", "1.5"], "--alpha = 1.5 is not allowed: a value in (0, 1)"),
        (["--alphas", "0"], "--alphas[0] = 0.0 is not allowed"),
        (["--accumulate", "max"], "--accumulate = 'max' is not allowed: one of sum, mean"),
        (["--temperature", "0"], "--temperature = 0.0 is not allowed"),
        (["--method", "hybrid"], "--method 'hybrid' is not allowed: one of direct, conversion"),
        (["--name", "a/b"], "--name 'a/b' is not allowed"),
    ],
)
def test_bad_options(tmp_path, args, message):
    code, _, stderr = run(outputs(tmp_path / "test.npz"), "--out", tmp_path / "out", *args)
    assert code == 2 and stderr.count("\n") == 1 and message in stderr, stderr
    assert not (tmp_path / "out").exists()


def test_the_readme_command_runs(tmp_path, monkeypatch):
    """The `seenn evaluate` line the README shows runs as written, on files of the names it uses."""
    from tests.sandbox import ROOT

    line = next(x for x in (ROOT / "README.md").read_text().splitlines() if x.startswith("seenn evaluate "))
    monkeypatch.chdir(tmp_path)
    outputs(tmp_path / "test_outputs.npz"), outputs(tmp_path / "val_outputs.npz", N=40, seed=1)
    code, _, stderr = run(*line.split()[2:])
    assert code == 0, stderr
    assert (tmp_path / "my_eval" / "exit_policies.md").is_file()
