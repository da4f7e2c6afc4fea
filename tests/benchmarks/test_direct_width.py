"""benchmarks/direct_width.py at a tiny size: the embedded TET run on 64 digits at two widths; the JSON has
one row per width, the second with its McNemar counts against the first, the test accuracy after each
step ends at the accuracy over all T steps, and the docs block renders from it."""

import json
import subprocess
import sys

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
