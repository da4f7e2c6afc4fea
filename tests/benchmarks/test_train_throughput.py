"""benchmarks/train_throughput.py at a tiny size on the CPU: the real training loop timed on the reference
and the fast path, with the switch ablation, and the summary line printed."""

import os
import re
import subprocess
import sys

from tests.sandbox import ROOT


def test_train_throughput_runs_tiny():
    cmd = [sys.executable, "-m", "benchmarks.train_throughput", "--T", "2", "--batch-size", "8"]
    cmd += ["--width", "0.0625", "--input-size", "8", "--batches", "2", "--epochs", "1", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # torch's threads: one, beside another test on 2 cores
    proc = subprocess.run([*cmd, "--ablate"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"model=resnet19 T=2 baseline_ips=\S+ fast_ips=\S+ speedup=\S+", last), last
