"""benchmarks/allocator_speed.py at a tiny size: both allocators run in alternating child processes, the
JSON, the summary line and the docs block agree."""

import json
import re
import subprocess
import sys

import pytest

from pipeline.core.memory import _glibc
from tests.sandbox import ROOT


@pytest.mark.skipif(_glibc() is None, reason="the allocator setting needs glibc (Linux)")
def test_allocator_speed_runs_tiny(tmp_path):
    out = tmp_path / "allocator_speed.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.allocator_speed",
        "--tet-width",
        "0.0625",
        "--qcfs-width",
        "0.0625",
    ]
    cmd += ["--T", "2", "--tet-batch", "4", "--qcfs-batch", "4", "--input-size", "8", "--steps", "1"]
    cmd += ["--rounds", "1", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    line = re.fullmatch(r"tet_speedup=([\d.]+) qcfs_speedup=([\d.]+)\n", proc.stdout)
    assert line, proc.stdout
    for group, workload in zip(line.groups(), ("tet", "qcfs")):
        per = doc["workloads"][workload]
        assert len(per["default"]["children_s"]) == len(per["kept"]["children_s"]) == 1
        assert per["speedup"] == per["default"]["step_s"] / per["kept"]["step_s"]
        assert abs(float(group) - per["speedup"]) < 0.006
    assert doc["machine"]["threads"] == 1 and doc["command"].endswith(f"--out {out}")
    from pipeline.docs.recipe_blocks import allocator_speed

    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "allocator_speed.json").write_text(out.read_text())
    block = allocator_speed(tmp_path)
    assert f"**{doc['workloads']['tet']['speedup']:.2f}x**" in block and "x0.0625, T = 2, batch 4" in block
