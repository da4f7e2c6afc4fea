"""Tests for the hardware report (`pipeline/report/hardware.py`) and a smoke test of the `hardware` stage on
hand-made tiny run folders (a direct run, a conversion run with its QCFS ANN, a SEENN-II folder)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import typer
import yaml
from matplotlib.figure import Figure
from typer.testing import CliRunner

from pipeline.core.config import parse_params
from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.data.prepared import DatasetInfo, PreparedData, save_prepared
from pipeline.seenn2.policy import build_policy
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann
from pipeline.report.hardware import HardwareRow, figure3, hardware_table, to_markdown
from stages.hardware import hardware
from pipeline.core.layout import seenn2_dir
from pipeline.training.outputs import run_record, save_model


def _row(run: str, policy: str, param: float, latency: float, energy: float, T: int = 4) -> HardwareRow:
    return HardwareRow(
        run=run,
        model="ResNet-19",
        dataset="digits",
        method="direct",
        T=T,
        policy=policy,
        param=param,
        accuracy=0.9,
        avg_timesteps=T if policy == "fixed" else 1.5,
        latency_ms=latency,
        throughput=1e3 / latency,
        energy_pj=energy,
        mac_pj=0.25 * energy,
        ac_pj=0.75 * energy,
        batch_size=256,
        device="cpu",
    )


def test_table_ratios_are_against_the_runs_fixed_t():
    rows = [
        _row("a", "seenn2", 0.1, 0.5, 400.0),
        _row("a", "seenn1", 0.95, 1.0, 500.0),
        _row("a", "fixed", 4, 2.0, 1000.0),
        _row("b", "fixed", 8, 4.0, 2000.0, T=8),
        _row("b", "seenn1", 0.95, 1.0, 1000.0, T=8),
    ]
    table = hardware_table(rows)
    assert list(zip(table.run, table.policy)) == [
        ("a", "fixed"),
        ("a", "seenn1"),
        ("a", "seenn2"),
        ("b", "fixed"),
        ("b", "seenn1"),
    ]
    np.testing.assert_allclose(table.speedup, [1.0, 2.0, 4.0, 1.0, 4.0])
    np.testing.assert_allclose(table.energy_ratio, [1.0, 0.5, 0.4, 1.0, 0.5])
    markdown = to_markdown(table)
    assert "SEENN-I (α=0.95)" in markdown and "fixed-T SNN (T=8)" in markdown and "4.00x" in markdown
    fig = figure3(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # latency and energy per run


def test_empty_table_renders():
    table = hardware_table([])
    assert table.empty and "(no rows)" in to_markdown(table)


TINY = {
    "seed": 0,
    "device": "cpu",
    "alpha": 0.6,
    "conversion": {
        "c1": {"dataset": "digits", "model": "resnet8", "width": 0.25, "T": 3, "qcfs_lambda": 2.0},
    },
    "direct": {"d1": {"dataset": "digits", "model": "resnet8", "width": 0.25, "T": 2}},
    "seenn2": {"runs": ["d1"], "betas": [2.0], "policy_width": 0.25, "policy_data": "train"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """params.yaml, data/digits and runs/{c1-ann, c1, d1, d1-seenn2, d1-seenn2-b2.0}, random weights."""
    root = tmp_path_factory.mktemp("hardware")
    (root / "params.yaml").write_text(yaml.safe_dump(TINY))
    p = parse_params(TINY)
    rng = np.random.default_rng(0)
    info = DatasetInfo("digits", "digits (sklearn 8x8)", "static", 10, 1, 8)
    x, y = rng.random((24, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 24)
    save_prepared(PreparedData(info, x, y, x, y), root / "data/digits")
    torch.manual_seed(0)
    ann = build_qcfs_ann(p.conversion["c1"], info)
    save_model(root / "runs/c1-ann/model.pt", ann)
    save_model(root / "runs/c1/model.pt", convert_qcfs_to_if(ann))
    snn = build_direct_snn(p.direct["d1"], info)
    save_model(root / "runs/d1/model.pt", snn)
    for run, method, T in (("c1", "conversion", 3), ("d1", "direct", 2)):
        spec = p.conversion[run] if method == "conversion" else p.direct[run]
        record = run_record(run, info, spec, root / "data/digits")
        (root / f"runs/{run}/run.json").write_text(json.dumps(record))
    for beta, folder in ((0.1, seenn2_dir(root / "runs", "d1")), (2.0, seenn2_dir(root / "runs", "d1", 2.0))):
        save_model(folder / "model.pt", snn)
        save_model(folder / "policy.pt", build_policy(2, info, 0.25))
        meta = {"base_run": "d1", "beta": beta, "candidates": [1, 2], "T": 2}
        (folder / "seenn2.json").write_text(json.dumps(meta))
    return root


def test_stage_writes_table_figure_and_metrics(project):
    app = typer.Typer()
    app.command()(hardware)
    out = project / "reports"
    result = CliRunner().invoke(
        app,
        [
            "--runs",
            str(project / "runs"),
            "--tables",
            str(out / "tables"),
            "--figures",
            str(out / "figures"),
            "--metrics",
            str(out / "hardware.json"),
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--batch-size",
            "8",
            "--params",
            str(project / "params.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "tables/hardware.csv")
    assert list(zip(table.run, table.policy, table.param)) == [
        ("c1", "fixed", 3),
        ("c1", "seenn1", 0.6),
        ("d1", "fixed", 2),
        ("d1", "seenn1", 0.6),
        ("d1", "seenn2", 0.1),
        ("d1", "seenn2", 2.0),
    ]
    assert (table.energy_pj > 0).all() and (table.latency_ms > 0).all()
    assert np.allclose(table.mac_pj + table.ac_pj, table.energy_pj)
    layers = pd.read_csv(out / "tables/hardware_layers.csv")
    assert "policy" in set(layers.layer) and {"firing_rate", "ops_per_image"} <= set(layers.columns)
    assert (out / "tables/hardware.md").read_text().startswith("### Hardware")
    assert all((out / "figures" / f).stat().st_size > 0 for f in ("figure3.png", "figure3.pdf"))
    metrics = json.loads((out / "hardware.json").read_text())
    assert set(metrics["runs"]) == {"c1", "d1"} and {"seenn2_b0.1", "seenn2_b2"} <= set(metrics["runs"]["d1"])


def test_stage_fails_in_one_line_without_the_ann(project, tmp_path):
    runs = tmp_path / "runs"
    for run in ("c1", "d1", "d1-seenn2", "d1-seenn2-b2.0"):
        (runs / run).mkdir(parents=True)
        for f in (project / "runs" / run).iterdir():
            (runs / run / f.name).write_bytes(f.read_bytes())
    app = typer.Typer()
    app.command()(hardware)
    result = CliRunner().invoke(
        app,
        [
            "--runs",
            str(runs),
            "--tables",
            str(tmp_path / "t"),
            "--figures",
            str(tmp_path / "f"),
            "--metrics",
            str(tmp_path / "m.json"),
            "--params",
            str(project / "params.yaml"),
        ],
    )
    assert result.exit_code == 2
    assert "c1-ann/model.pt is missing" in result.output
    assert not (tmp_path / "t").exists()
