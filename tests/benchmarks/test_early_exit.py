"""benchmarks/early_exit.py at a tiny size: with no trained run it trains a one-epoch ResNet-19 on the
embedded digits, times fixed T against SEENN-I through the engine and checks the engine against the offline
rule (a broken import or interface fails here)."""

import re
import subprocess
import sys

from tests.sandbox import ROOT


def test_early_exit_runs_tiny(tmp_path):
    cmd = [sys.executable, "benchmarks/early_exit.py", "--runs", str(tmp_path)]
    cmd += ["--params", str(tmp_path / "none.yaml"), "--train-epochs", "1"]
    cmd += ["--samples", "64", "--batch-size", "32", "--repeats", "1"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "engine exits == pipeline.exits.policies.seenn1_exit on the full-T logits: True" in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"avg_T=\S+ T=4 ideal_speedup=\S+ realized_speedup=\S+ ratio=\S+", last), last
