"""Stage `hardware`: latency, throughput and energy per image of every run's fixed-T SNN, SEENN-I (at the
headline alpha) and SEENN-II (each finetune folder), measured with the batched early-exit engine; writes
the hardware table (markdown + CSV, and the per-layer energy CSV), Figure 3 and a metrics file."""

import json
from pathlib import Path

import pandas as pd
import torch
import typer
from torch import nn

from pipeline.core.atomic import write_atomic, write_json_atomic, write_text_atomic
from pipeline.core.config import Params, ParamsError, candidate_steps, resolve_device
from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.data.prepared import PreparedData, example_input, load_prepared
from pipeline.hardware.rules import FixedT, PolicyNet, Seenn1
from pipeline.seenn2.policy import build_policy, policy_input
from pipeline.hardware.measure import OperatingPoint, SnnUnderTest, measure_policies
from pipeline.snn.models import PAPER_NAMES
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann
from pipeline.snn.opcount import macs_per_input
from pipeline.training.recipes import test_inputs
from pipeline.report.hardware import figure3, hardware_table, to_markdown
from stages.common import fail, load_params
from stages.layout import ann_dir, report_inputs


def _weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the stage that writes it first")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_snn(run_dir: Path, p: Params, runs: Path) -> tuple[nn.Module, dict, PreparedData]:
    """Rebuild a run's SNN from params + `model.pt`; also return its run.json and prepared data.

    Direct runs: the LIF net of `direct.<run>`. Conversion runs: the QCFS ANN of `conversion.<run>` with
    its trained lambdas (from `ann_dir`), converted to IF neurons, then the run's own weights loaded.
    """
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} is missing: run the training or conversion stage first")
    record = json.loads(record_path.read_text())
    name = record["run"]
    data = load_prepared(Path(record["data_dir"]))
    if record["method"] == "direct":
        if name not in p.direct:
            raise ValueError(f"{record_path}: run {name!r} is not in `direct` of the params")
        snn = build_direct_snn(p.direct[name], data.info)
    else:
        if name not in p.conversion:
            raise ValueError(f"{record_path}: run {name!r} is not in `conversion` of the params")
        ann = build_qcfs_ann(p.conversion[name], data.info)
        ann.load_state_dict(_weights(ann_dir(runs, name) / "model.pt"))
        snn = convert_qcfs_to_if(ann)
    snn.load_state_dict(_weights(run_dir / "model.pt"))
    return snn.eval(), record, data


def _target(snn: nn.Module, record: dict, data: PreparedData, run: str) -> SnnUnderTest:
    x, labels = test_inputs(data)  # ImageNet: one validation image per class
    return SnnUnderTest(
        run=run,
        model_name=PAPER_NAMES.get(record["model"], record["model"]),
        dataset_label=data.info.label,
        method=record["method"],
        T=int(record["T"]),
        snn=snn,
        info=data.info,
        x=x,
        labels=labels,
    )


def _seenn2_point(folder: Path, p: Params, runs: Path, device: str) -> tuple[SnnUnderTest, OperatingPoint]:
    """The finetuned SNN of a SEENN-II folder and its policy network as an operating point."""
    meta_path = folder / "seenn2.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} is missing: run the finetune stage first")
    meta = json.loads(meta_path.read_text())
    base = runs / meta["base_run"]
    snn, record, data = load_snn(base, p, runs)
    snn.load_state_dict(_weights(folder / "model.pt"))  # the finetuned SNN replaces the base weights
    candidates = tuple(meta.get("candidates") or candidate_steps(p.seenn2.candidates, int(record["T"])))
    net = build_policy(len(candidates), data.info, p.seenn2.policy_width, p.seenn2.policy_input_size)
    net.load_state_dict(_weights(folder / "policy.pt"))
    net.eval()
    x0 = example_input(data.info)
    macs = macs_per_input(net, policy_input(x0, data.info, p.seenn2.policy_input_size))["total"]
    policy = PolicyNet(net.to(device), candidates, data.info, p.seenn2.policy_input_size)
    point = OperatingPoint("seenn2", float(meta["beta"]), policy, macs)
    return _target(snn, record, data, meta["base_run"]), point


def _metrics(table: pd.DataFrame, alpha: float, device: str, batch_size: int) -> dict:
    """Per run and policy: the headline numbers `dvc metrics show` lists."""
    out: dict = {}
    for r in table.itertuples(index=False):
        key = r.policy if r.policy != "seenn2" else f"seenn2_b{r.param:g}"
        out.setdefault(r.run, {})[key] = {
            "accuracy": round(float(r.accuracy), 6),
            "avg_timesteps": round(float(r.avg_timesteps), 6),
            "latency_ms": round(float(r.latency_ms), 6),
            "throughput": round(float(r.throughput), 2),
            "energy_nj": round(float(r.energy_pj) / 1e3, 4),
            "speedup": round(float(r.speedup), 4),
            "energy_ratio": round(float(r.energy_ratio), 4),
        }
    threads = torch.get_num_threads()
    return {"alpha": alpha, "device": device, "batch_size": batch_size, "threads": threads, "runs": out}


def hardware(
    runs: Path = typer.Option(Path("runs"), help="folder holding the run folders named in params"),
    tables: Path = typer.Option(..., help="folder for hardware.md, hardware.csv and hardware_layers.csv"),
    figures: Path = typer.Option(..., help="folder for figure3.png and figure3.pdf"),
    metrics: Path = typer.Option(..., help="metrics JSON to write"),
    batch_size: int = typer.Option(256, min=1, help="inputs computed together by the engine"),
    warmup: int = typer.Option(1, min=0, help="untimed passes over the test set before timing"),
    repeats: int = typer.Option(5, min=1, help="timed passes; the median is reported"),
    threads: int = typer.Option(
        1, min=0, help="torch CPU threads while timing (0: torch's default; 1 is steadiest on a shared CPU)"
    ),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Measure latency (paper appendix D: test-set time / images), throughput and energy per image of the
    fixed-T SNN, SEENN-I and SEENN-II with the batched early-exit engine; draw Figure 3."""
    p = load_params(params)
    try:
        device = resolve_device(p.device)
    except ParamsError as err:
        fail(str(err))
    if threads:
        torch.set_num_threads(threads)  # spinning OpenMP threads on a busy CPU distort latencies badly
    rows, layers = [], []
    try:
        run_dirs, seenn2_dirs = report_inputs(p, runs)
        for run_dir in run_dirs:
            snn, record, data = load_snn(run_dir, p, runs)
            T = int(record["T"])
            conversion = record["method"] == "conversion"
            temperature = p.sweep.conversion_temperature if conversion else p.sweep.direct_temperature
            points = [
                OperatingPoint("fixed", T, FixedT(T)),
                OperatingPoint("seenn1", p.alpha, Seenn1(p.alpha, p.sweep.accumulate, temperature)),
            ]
            target = _target(snn, record, data, record["run"])
            measured, per_layer = measure_policies(target, points, batch_size, device, warmup, repeats)
            rows += measured
            layers.append(per_layer)
            summary = ", ".join(f"{r.policy} {r.latency_ms:.4f} ms/img" for r in measured)
            typer.echo(f"hardware: {target.run}: {summary}")
        for folder in seenn2_dirs:
            target, point = _seenn2_point(folder, p, runs, device)
            measured, per_layer = measure_policies(target, [point], batch_size, device, warmup, repeats)
            rows += measured
            layers.append(per_layer)
            r = measured[0]
            typer.echo(f"hardware: {folder}: seenn2 {r.latency_ms:.4f} ms/img at avg T {r.avg_timesteps:.3f}")
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        fail(str(err))
    table = hardware_table(rows)
    per_layer = pd.concat(layers, ignore_index=True) if layers else pd.DataFrame()
    markdown = to_markdown(table)
    fig = figure3(table)
    # Everything is computed before anything is written: a failure leaves the previous outputs in place.
    write_atomic(tables / "hardware.csv", lambda tmp: table.to_csv(tmp, index=False))
    write_atomic(tables / "hardware_layers.csv", lambda tmp: per_layer.to_csv(tmp, index=False))
    write_text_atomic(tables / "hardware.md", markdown)
    write_atomic(figures / "figure3.png", lambda tmp: fig.savefig(tmp, dpi=150, format="png"))
    # No creation date in the PDF, so equal numbers give byte-identical files.
    write_atomic(
        figures / "figure3.pdf", lambda tmp: fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    )
    write_json_atomic(metrics, _metrics(table, p.alpha, device, batch_size))
    typer.echo(f"hardware: {len(rows)} points on {device} (batch {batch_size}) -> {tables}, {figures}")
