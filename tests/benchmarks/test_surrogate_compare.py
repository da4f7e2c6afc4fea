"""benchmarks/surrogate_compare.py at a tiny size: r19 trained for one epoch on 128 training inputs with two
surrogates, each accuracy with its interval (on the whole test set) and the paired McNemar test printed."""

import re
import subprocess
import sys

from tests.sandbox import ROOT


def test_surrogate_compare_runs_tiny():
    cmd = [sys.executable, "-m", "benchmarks.surrogate_compare", "--runs", "r19", "--surrogates", "triangle"]
    cmd += ["dspike", "--epochs", "1", "--train-subset", "128", "--threads", "1"]  # 2 cores, 2 workers
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = r"^r19 triangle: [\d.]+ % \[[\d.]+, [\d.]+\] \(\d+/\d+\)$"
    assert re.search(line, proc.stdout, re.M), proc.stdout
    assert re.search(r"^run=r19 triangle_minus_dspike_pts=-?[\d.]+ mcnemar_p=[\d.]+$", proc.stdout, re.M)
