"""benchmarks/pipeline_timing.py in its `--dry-run` mode: the sandbox copy of the project is built and DVC
plans the cold run of the embedded default (a broken import, sandbox or dvc.yaml fails here)."""

import subprocess
import sys

from tests.sandbox import ROOT


def test_pipeline_timing_plans_the_cold_run():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline_timing", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = int(proc.stdout.strip().splitlines()[-1].removeprefix("planned_stages="))
    assert planned > 5
