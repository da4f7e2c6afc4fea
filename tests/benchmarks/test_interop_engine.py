"""benchmarks/interop_engine.py at a tiny size: the engine on a spikingjelly network equals the offline
rule, and both reports are written with the numbers docs/interop.md quotes."""

import json
import re
import subprocess
import sys

import pytest

from tests.sandbox import ROOT

pytest.importorskip("spikingjelly.activation_based.neuron")


def test_interop_engine_runs_tiny(tmp_path):
    speed, energy = tmp_path / "speed.json", tmp_path / "energy.json"
    cmd = [sys.executable, "benchmarks/interop_engine.py", "--samples", "48", "--batch-size", "16"]
    cmd += ["--T", "4", "--repeats", "1", "--no-syops", "--out", str(speed), "--energy-out", str(energy)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(
        r"avg_T=\S+ T=4 ideal_speedup=\S+ realized_speedup=\S+ ratio=\S+ exits_equal_offline=", proc.stdout
    )
    report = json.loads(speed.read_text())
    assert report["command"].startswith("python benchmarks/interop_engine.py --samples 48")
    assert report["machine"]["versions"]["spikingjelly"] and report["machine"]["cores"] >= 1
    s = report["speed"]
    assert 1 <= s["avg_timesteps"] <= 4 and s["ideal_speedup"] == pytest.approx(4 / s["avg_timesteps"])
    assert s["realized_speedup"] > 0 and len(s["fixed_seconds"]) == 1
    assert s["seenn1_efficiency"] == 1.0  # refilled pools: no step of a finished input is computed
    counts = json.loads(energy.read_text())["energy"]
    assert counts["syops_fixed_T"] == "skipped (--no-syops)"
    fixed, early = counts["ours_fixed_T"], counts["ours_seenn1"]
    # the first conv sees pixels: 16 channels x 32 x 32 outputs x 27 weights x 4 steps, all MACs
    assert fixed["macs"] == 16 * 32 * 32 * 27 * 4
    assert 0 < early["total_pj"] <= fixed["total_pj"]
