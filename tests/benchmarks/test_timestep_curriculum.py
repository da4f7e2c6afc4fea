"""benchmarks/timestep_curriculum.py at a tiny size: the embedded TET run on 64 digits, one epoch at T
against two epochs of which the first runs at T = 1; the JSON has both rows with the McNemar counts of the
curriculum against plain training, and the docs block renders from it."""

import json
import subprocess
import sys

from pipeline.docs.blocks import timestep_curriculum
from tests.sandbox import ROOT


def test_timestep_curriculum_runs_tiny(tmp_path):
    out = tmp_path / "benchmarks" / "timestep_curriculum.json"
    cmd = [sys.executable, "-m", "benchmarks.timestep_curriculum", "--params", "params.yaml", "--run", "r19"]
    cmd += ["--plain-epochs", "1", "--curriculum", "2", "1", "1", "--train-subset", "64", "--out", str(out)]
    cmd += ["--threads", "1"]  # beside another test on 2 cores: two threads each would oversubscribe them
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    plain, curriculum = doc["rows"]
    assert plain["variant"] == "T = 4 throughout, 1 epochs" and plain["epochs"] == 1
    assert (
        curriculum["variant"] == "curriculum: 1 epochs at T = 1, then 1 at T = 4"
        and curriculum["epochs"] == 2
    )
    assert plain["epoch_T"] == [4] and curriculum["epoch_T"] == [1, 4]
    for row in (plain, curriculum):  # epochs end before the final test pass that closes train_seconds
        assert len(row["epoch_seconds"]) == row["epochs"]
        assert 0 < sum(row["epoch_seconds"]) <= row["train_seconds"] + 0.2
    assert {"machine", "command"} <= set(doc) and doc["train_images"] == 64
    n = plain["test"]["n"]
    assert n == 540 and plain["val"]["n"] == 252  # the embedded digits split
    # the paired difference is (c - b) / n: the counts and the accuracies agree
    diff = (curriculum["mcnemar_c"] - curriculum["mcnemar_b"]) / n
    assert abs(diff - (curriculum["test"]["accuracy"] - plain["test"]["accuracy"])) < 1e-9
    block = timestep_curriculum(tmp_path)
    table = [line for line in block.splitlines() if line.startswith("|")]
    assert len(table) == 4 and table[3].startswith("| curriculum: 1 epochs at T = 1")  # header, rule, 2 rows


def test_a_run_without_a_curriculum_is_refused_before_training():
    cmd = [sys.executable, "-m", "benchmarks.timestep_curriculum", "--params", "params.yaml", "--run", "r19"]
    proc = subprocess.run(cmd + ["--plain-epochs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "direct.r19 has no timestep curriculum" in proc.stderr
