"""benchmarks/recipe_ablation.py at a tiny size: the embedded QCFS run for one epoch on 64 digits with the
paper's recipe and with Nesterov alone; the JSON has both rows, the TTA evaluation, the McNemar counts of
the variant against the paper's recipe, and the docs block renders from it."""

import json
import subprocess
import sys

from pipeline.docs.blocks import recipe_ablation
from tests.sandbox import ROOT


def test_recipe_ablation_runs_tiny(tmp_path):
    out = tmp_path / "benchmarks" / "recipe_ablation.json"
    cmd = [sys.executable, "-m", "benchmarks.recipe_ablation", "--params", "params.yaml", "--run", "r18-qcfs"]
    cmd += ["--epochs", "1", "--train-subset", "64", "--only", "+nesterov", "--out", str(out)]
    cmd += ["--threads", "1"]  # beside another test on 2 cores: two threads each would oversubscribe them
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert [r["variant"] for r in doc["rows"]] == ["paper", "+tta_flip", "+nesterov"]
    assert {"machine", "command"} <= set(doc) and doc["train_images"] == 64
    paper, _, nesterov = doc["rows"]
    n = paper["test"]["n"]
    assert n == 540 and paper["val"]["n"] == 252  # the embedded digits split
    # the paired difference is (c - b) / n: the counts and the accuracies agree
    diff = (nesterov["mcnemar_c"] - nesterov["mcnemar_b"]) / n
    assert abs(diff - (nesterov["test"]["accuracy"] - paper["test"]["accuracy"])) < 1e-9
    block = recipe_ablation(tmp_path)
    assert (
        block.count("\n| ") == 3 and "| +nesterov |" in block and "(no training)" in block
    )  # a line per variant
