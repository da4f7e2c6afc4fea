"""benchmarks/direct_width.py at a tiny size: the embedded TET run on 64 digits at two widths; the JSON has
one row per width, the second with its McNemar counts against the first, the test accuracy after each
step ends at the accuracy over all T steps, and the docs block renders from it."""

import json
import subprocess
import sys

import yaml

from pipeline.docs.blocks import direct_width
from tests.sandbox import ROOT

COMMAND = [sys.executable, "-m", "benchmarks.direct_width", "--params", "params.yaml", "--run", "r19"]


def test_direct_width_runs_tiny(tmp_path):
    out = tmp_path / "benchmarks" / "direct_width.json"
    cmd = [*COMMAND, "--widths", "0.0625", "0.125", "--train-subset", "64", "--out", str(out)]
    cmd += ["--threads", "1"]  # beside another test on 2 cores: two threads each would oversubscribe them
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    first, second = doc["rows"]
    assert (first["width"], second["width"]) == (0.0625, 0.125) and doc["train_images"] == 64
    assert doc["machine"]["threads"] == 1  # --threads replaced the params' cpu.threads (2)
    assert "mcnemar_b" not in first
    n = second["test"]["n"]
    assert n == 540  # the embedded digits test split
    # the paired difference is (c - b) / n: the counts and the accuracies agree
    diff = (second["mcnemar_c"] - second["mcnemar_b"]) / n
    assert abs(diff - (second["test"]["accuracy"] - first["test"]["accuracy"])) < 1e-9
    for row in (first, second):
        assert len(row["test_after_step"]) == doc["T"]
        assert abs(row["test_after_step"][-1] - row["test"]["accuracy"]) < 1e-4  # rounded to 4 places
    table = [line for line in direct_width(tmp_path).splitlines() if line.startswith("|")]
    assert len(table) == 4 and table[2].startswith("| 0.0625 ") and "b " in table[3]  # header, rule, 2 rows


def test_a_width_that_is_not_positive_is_refused_before_training():
    proc = subprocess.run(
        [*COMMAND, "--widths", "0.25", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--widths must be positive" in proc.stderr


def test_curriculum_epochs_train_each_count_with_the_runs_epochs_at_T(tmp_path):
    """With `--curriculum-epochs 1 2` on a run of 1 + 1 epochs (T = 1, then T = 4), the rows train 1 + 1
    and 2 + 1 epochs: each epoch's T says so, and the docs block shows the schedules."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["direct"]["r19"].update(epochs=2, curriculum_T=1, curriculum_epochs=1)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    out = tmp_path / "benchmarks" / "direct_epochs.json"
    cmd = [*COMMAND[:3], "--params", str(params_file), "--run", "r19", "--widths", "0.0625"]
    cmd += ["--curriculum-epochs", "1", "2", "--train-subset", "64", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = json.loads(out.read_text())["rows"]
    assert first["epoch_T"] == [1, 4] and second["epoch_T"] == [1, 1, 4]
    assert "mcnemar_b" in second and "mcnemar_b" not in first
    table = [line for line in direct_width(tmp_path, "direct_epochs").splitlines() if line.startswith("|")]
    assert "T = 1 + T = 4" in table[0] and "1 + 1 epochs" in table[0]
    assert [row.split("|")[2].strip() for row in table[2:]] == ["1 + 1", "2 + 1"]


def test_curriculum_epochs_need_a_run_with_a_curriculum():
    """The embedded r19 has no curriculum (curriculum_T 0): the option is refused before any training."""
    proc = subprocess.run(
        [*COMMAND, "--widths", "0.25", "--curriculum-epochs", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "run r19 has no timestep curriculum" in proc.stderr, proc.stderr
