"""docs/interop.md runs as written: its Python blocks, in order, in an empty folder (small random networks
in spikingjelly and snnTorch), then its `seenn evaluate` command on what they recorded; and the numbers
it quotes are those of the committed benchmark reports."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.sandbox import ROOT

DOC = ROOT / "docs" / "interop.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == language]


def test_the_page_has_examples_for_both_frameworks_and_the_command():
    code = "\n".join(blocks("python"))
    assert "spikingjelly" in code and "snntorch" in code and "SteppedJelly" in code
    assert [c for c in blocks("bash") if c.startswith("seenn evaluate")]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The Python blocks as one script (later blocks use earlier names), then the commands."""
    folder = tmp_path_factory.mktemp("interop-doc")
    script = folder / "example.py"
    script.write_text("\n\n".join(blocks("python")))
    env = {"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent), "HOME": str(folder)}
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    commands = [line for block in blocks("bash") for line in block.splitlines() if line.startswith("seenn ")]
    results = []
    for command in commands:
        words = shlex.split(command)
        argv = [
            sys.executable,
            "-c",
            "import sys; from stages.cli import main; sys.argv[0] = 'seenn'; main()",
        ]
        results.append(
            subprocess.run(
                [*argv, *words[1:]], cwd=folder, capture_output=True, text=True, timeout=120, env=env
            )
        )
    return folder, proc, results


def test_the_python_examples_record_what_they_say(ran):
    folder, proc, _ = ran
    assert "(4, 48, 10)" in proc.stdout  # the printed shapes
    for name in ("jelly_test.npz", "jelly_val.npz", "jelly_train.npz", "snntorch_test.npz"):
        assert (folder / name).stat().st_size > 0, name
    assert re.search(r"\d+\.\d+ uJ per image at T = 4, \d+\.\d+ uJ with SEENN-I", proc.stdout)


def test_the_command_writes_the_report(ran):
    folder, _, results = ran
    assert results and all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    out = folder / "jelly-eval"
    for name in ("exit_policies.md", "exit_policies.csv", "exit_policies.png", "curves/topk_calibrated.csv"):
        assert (out / name).is_file(), name
    sweep = pd.read_csv(out / "run" / "sweep.csv")
    assert {"fixed", "seenn1", "topk", "topk_calibrated", "entropy", "oracle"} <= set(sweep.policy)
    assert "my-jelly-net" in (out / "exit_policies.md").read_text()


def test_the_quoted_benchmark_numbers_are_the_committed_ones():
    text = DOC.read_text()
    speed = json.loads((ROOT / "reports/benchmarks/interop_engine.json").read_text())
    s = speed["speed"]
    for quoted in (
        f"| {s['fixed_ms_per_sample']:.2f} | {s['seenn1_ms_per_sample']:.2f} |",
        f"realized {s['realized_speedup']:.2f}x, ideal {s['ideal_speedup']:.2f}x",
        f"{100 * s['realized_over_ideal']:.0f} % of the ideal",
        f"alpha = {speed['alpha']:.3f}",
    ):
        assert quoted in text, quoted
    energy = json.loads((ROOT / "reports/benchmarks/interop_energy.json").read_text())["energy"]
    ours, theirs = energy["ours_fixed_T"], energy["syops_fixed_T"]
    for quoted in (
        f"| {ours['macs']:,.0f} | {theirs['macs']:,.0f} |",
        f"| {ours['acs']:,.0f} | {theirs['acs']:,.0f} |",
        f"| {ours['per_layer']['3']['ops_per_image']:,.0f} | {theirs['per_layer']['3']['acs']:,.0f} |",
        f"{ours['total_pj'] / 1e6:.2f} uJ per image",
        f"{energy['ours_seenn1']['total_pj'] / 1e6:.2f} uJ with SEENN-I",
    ):
        assert quoted in text, quoted
