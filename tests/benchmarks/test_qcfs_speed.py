"""benchmarks/qcfs_speed.py at a tiny size: both paths run, the JSON and the summary line agree."""

import json
import re
import subprocess
import sys

from tests.sandbox import ROOT


def test_qcfs_speed_runs_tiny(tmp_path):
    out = tmp_path / "qcfs_speed.json"
    cmd = [sys.executable, "-m", "benchmarks.qcfs_speed", "--width", "0.0625", "--batch-size", "4"]
    cmd += ["--input-size", "8", "--steps", "2", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert set(doc["paths"]) == {"reference", "fused"} and {"machine", "command"} <= set(doc)
    line = re.fullmatch(
        r"model=fastvgg reference_ips=([\d.]+) fused_ips=([\d.]+) speedup=([\d.]+)\n", proc.stdout
    )
    assert line, proc.stdout
    ratio = doc["paths"]["fused"]["images_per_s"] / doc["paths"]["reference"]["images_per_s"]
    assert abs(float(line.group(3)) - ratio) < 0.006 and doc["speedup"] == ratio
    from pipeline.docs.blocks import qcfs_speed

    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "qcfs_speed.json").write_text(out.read_text())
    block = qcfs_speed(tmp_path)
    assert (
        f"**{doc['speedup']:.2f}x**" in block
        and f"{doc['paths']['fused']['images_per_s']:.0f} images/s" in block
    )
