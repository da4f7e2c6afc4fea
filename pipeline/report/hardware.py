"""The hardware table and Figure 3: latency, throughput and energy per image of the fixed-T SNN, SEENN-I
and SEENN-II, from measurements the `hardware` stage makes with the early-exit engine.

Pure functions: `hardware_table(rows)` returns the tidy table (also its CSV twin), `to_markdown` renders
it, `figure3(table)` draws it on a `matplotlib.figure.Figure` (no pyplot state). Ratios compare each
policy with the same run's fixed-T SNN at its full T.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pipeline.exits.stats import wilson_interval
from pipeline.hardware.rows import HardwareRow
from pipeline.report.files import ReportFile
from pipeline.report.markdown import pipe_table

POLICY_LABELS = {"fixed": "fixed-T SNN", "seenn1": "SEENN-I", "seenn2": "SEENN-II"}
_POLICY_ORDER = {"fixed": 0, "seenn1": 1, "seenn2": 2}
_COLORS = {"fixed": "tab:orange", "seenn1": "tab:blue", "seenn2": "tab:green"}


TABLE_COLUMNS = [
    *HardwareRow.__dataclass_fields__,
    "accuracy_low",  # 95 % Wilson interval of the accuracy
    "accuracy_high",
    "speedup",
    "latency_ratio",
    "energy_ratio",
]


def hardware_table(rows: Sequence[HardwareRow]) -> pd.DataFrame:
    """Tidy table, one line per (run, policy, param), with ratios to the run's fixed-T SNN.

    `speedup` = fixed-T latency / latency, `latency_ratio` its inverse, `energy_ratio` = energy /
    fixed-T energy (NaN where the run has no fixed-T row at its full T).
    """
    table = pd.DataFrame([asdict(r) for r in rows], columns=list(HardwareRow.__dataclass_fields__))
    if table.empty:
        return table.reindex(columns=TABLE_COLUMNS)
    base = table[(table["policy"] == "fixed") & (table["param"] == table["T"])].drop_duplicates("run")
    base = base.set_index("run")
    fixed_latency = table["run"].map(base["latency_ms"]).astype(float)
    fixed_energy = table["run"].map(base["energy_pj"]).astype(float)
    table["speedup"] = fixed_latency / table["latency_ms"]
    table["latency_ratio"] = table["latency_ms"] / fixed_latency
    table["energy_ratio"] = table["energy_pj"] / fixed_energy
    ends = [
        wilson_interval(int(round(a * n)), int(n)) if n > 0 else (math.nan, math.nan)
        for a, n in zip(table["accuracy"], table["n_test"])
    ]
    table["accuracy_low"], table["accuracy_high"] = [e[0] for e in ends], [e[1] for e in ends]
    order = table["policy"].map(_POLICY_ORDER).fillna(len(_POLICY_ORDER))
    run_order = {run: i for i, run in enumerate(dict.fromkeys(table["run"]))}
    table = table.assign(_r=table["run"].map(run_order), _p=order)
    table = table.sort_values(["_r", "_p", "param"], kind="stable")  # runs as given, then fixed, I, II
    return table.drop(columns=["_r", "_p"]).reset_index(drop=True)[TABLE_COLUMNS]


def _accuracy(r) -> str:
    """`97.04 [95.61, 98.05]`: accuracy in % with its 95 % Wilson interval."""
    if math.isnan(r.accuracy_low):
        return f"{100 * r.accuracy:.2f}"
    return f"{100 * r.accuracy:.2f} [{100 * r.accuracy_low:.2f}, {100 * r.accuracy_high:.2f}]"


def policy_label(policy: str, param: float) -> str:
    """`fixed-T SNN (T=4)`, `SEENN-I (α=0.95)`, `SEENN-II (β=0.1)`."""
    symbol = {"fixed": "T", "seenn1": "α", "seenn2": "β"}.get(policy, "param")
    value = f"{int(param)}" if policy == "fixed" else f"{param:g}"
    return f"{POLICY_LABELS.get(policy, policy)} ({symbol}={value})"


TITLE = "Hardware: latency, throughput and energy per image"


def to_markdown(table: pd.DataFrame, title: str = TITLE) -> str:
    """Markdown rendering of `hardware_table`: one row per run and policy, with units and notes."""
    header = [
        "Model",
        "Run",
        "Dataset",
        "Policy",
        "Acc. (%)",
        "avg T",
        "Latency (ms/img)",
        "Throughput (img/s)",
        "Energy (nJ/img)",
        "MAC (nJ)",
        "AC (nJ)",
        "Speedup",
        "Energy ratio",
    ]
    rows = [
        [
            r.model,
            r.run,
            r.dataset,
            policy_label(r.policy, r.param),
            _accuracy(r),
            f"{r.avg_timesteps:.3f}",
            f"{r.latency_ms:.4f}",
            f"{r.throughput:,.0f}",
            f"{r.energy_pj / 1e3:.1f}",
            f"{r.mac_pj / 1e3:.1f}",
            f"{r.ac_pj / 1e3:.1f}",
            f"{r.speedup:.2f}x",
            f"{r.energy_ratio:.3f}",
        ]
        for r in table.itertuples(index=False)
    ]
    lines = [f"### {title}", "", pipe_table(header, rows) if rows else "(no rows)"]
    settings = sorted({(r.device, int(r.batch_size)) for r in table.itertuples(index=False)})
    inputs = sorted({int(r.n_test) for r in table.itertuples(index=False)})
    notes = [
        "Latency: test-set inference time / number of images with the batched early-exit engine "
        "(median of timed passes, after warm-up), as in the paper's appendix D; "
        + ", ".join(f"device {d}, batch size {b}" for d, b in settings)
        + "; "
        + " or ".join(f"{n:,}" for n in inputs)
        + " test inputs (hardware.test_inputs: evenly spaced over the test set, 0 = all).",
        "Energy: 4.6 pJ per MAC (first layer's analog input, any layer fed by non-binary values, the "
        "SEENN-II policy network) and 0.9 pJ per accumulate triggered by a spike (its real fan-out), each "
        "image charged for its own timesteps; firing rates measured on the test set.",
        "Speedup and energy ratio are against the same run's fixed-T SNN at its full T. SEENN-II rows run "
        "the SNN finetuned with its policy (joint training changes the SNN) and include the policy "
        "network's time and MACs.",
    ]
    lines += ["", "Notes:", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def _finish(ax: Axes, rows: pd.DataFrame, ylabel: str, fontsize: float) -> None:
    labels = [policy_label(p, v) for p, v in zip(rows["policy"], rows["param"])]
    ax.set_xticks(np.arange(len(rows)), labels, fontsize=fontsize - 1, rotation=20, ha="right")
    ax.set_ylabel(ylabel, fontsize=fontsize)
    ax.tick_params(axis="y", labelsize=fontsize)
    ax.grid(axis="y", alpha=0.3)


def plot_latency(ax: Axes, rows: pd.DataFrame, fontsize: float = 8.0) -> None:
    """One run's latency per image (ms) under each policy; bars labelled with their average T."""
    rows = rows.reset_index(drop=True)
    colors = [_COLORS.get(p, "tab:gray") for p in rows["policy"]]
    bars = ax.bar(np.arange(len(rows)), rows["latency_ms"], 0.7, color=colors)
    ax.bar_label(bars, [f"avg T {t:.2f}" for t in rows["avg_timesteps"]], fontsize=fontsize - 2, padding=1)
    ax.margins(y=0.12)  # room for the labels
    _finish(ax, rows, "latency (ms / image)", fontsize)


def plot_energy(ax: Axes, rows: pd.DataFrame, fontsize: float = 8.0) -> None:
    """One run's energy per image (nJ) under each policy: MAC part hatched below, AC part solid above."""
    rows = rows.reset_index(drop=True)
    x = np.arange(len(rows))
    colors = [_COLORS.get(p, "tab:gray") for p in rows["policy"]]
    ax.bar(x, rows["mac_pj"] / 1e3, 0.7, color=colors, hatch="///", edgecolor="white")
    ax.bar(x, rows["ac_pj"] / 1e3, 0.7, bottom=rows["mac_pj"] / 1e3, color=colors)
    key = [
        Patch(facecolor="0.6", hatch="///", edgecolor="white", label="MACs (4.6 pJ)"),
        Patch(facecolor="0.6", label="ACs (0.9 pJ)"),
    ]
    ax.legend(handles=key, fontsize=fontsize - 1)
    _finish(ax, rows, "energy (nJ / image)", fontsize)


def figure3(
    table: pd.DataFrame, panel_size: tuple[float, float] = (2.8, 2.6), fontsize: float = 8.0
) -> Figure:
    """Figure 3: latency (top row) and energy (bottom row) per image, fixed-T SNN vs SEENN-I vs SEENN-II,
    one column per run (each with its own scale: the models differ by orders of magnitude).

    Args:
        table: `hardware_table`'s output.
        panel_size: width and height of one panel, inches.
        fontsize: labels and ticks, pt.
    """
    runs = list(dict.fromkeys(table["run"])) or [""]
    fig = Figure(figsize=(panel_size[0] * len(runs), 2 * panel_size[1]), layout="constrained")
    axes = fig.subplots(2, len(runs), squeeze=False)
    for col, run in enumerate(runs):
        rows = table[table["run"] == run]
        if rows.empty:
            continue
        plot_latency(axes[0, col], rows, fontsize)
        plot_energy(axes[1, col], rows, fontsize)
        first = rows.iloc[0]
        axes[0, col].set_title(f"{first['model']} ({run})\n{first['dataset']}", fontsize=fontsize + 1)
    return fig


def hardware_bundle(table: pd.DataFrame, per_layer: pd.DataFrame) -> dict[str, ReportFile]:
    """The hardware table (markdown, CSV, per-layer energy CSV) and Figure 3 (PNG and PDF)."""
    fig = figure3(table)
    return {
        "hardware.csv": table,
        "hardware_layers.csv": per_layer,
        "hardware.md": to_markdown(table),
        "figure3.png": fig,
        "figure3.pdf": fig,
    }
