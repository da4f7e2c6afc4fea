"""The exit-policy comparison figure: accuracy against average timesteps for every policy of each run's
test-set sweep (the curves stay sweeps, as the paper plots them), oracle and AET marked."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pipeline.report.exit_policies import POLICY_LABELS, ROUTES, policy_order
from pipeline.report.figures import panel_grid
from pipeline.report.results import RunResult


@dataclass(frozen=True)
class ExitPoliciesStyle:
    """Colours, markers and sizes of the comparison figure."""

    colors: tuple[tuple[str, str], ...] = (
        ("fixed", "tab:orange"),
        ("seenn1", "tab:blue"),
        ("seenn2", "tab:green"),
        ("entropy", "tab:purple"),
        ("topk", "tab:brown"),
        ("topk_calibrated", "tab:pink"),
        ("oracle", "black"),
    )  # policy -> colour; others take tab:gray
    markers: tuple[tuple[str, str], ...] = (
        ("fixed", "s"),
        ("seenn1", "o"),
        ("seenn2", "D"),
        ("entropy", "v"),
        ("topk", "^"),
        ("topk_calibrated", "P"),
        ("oracle", "X"),
    )  # policy -> marker; others take "."
    aet_color: str = "tab:red"  # AET star
    fontsize: float = 8.0  # labels, ticks, legends (pt)
    title_fontsize: float = 9.0  # panel titles (pt)
    marker_size: float = 5.0  # curve markers (pt)
    highlight_size: float = 10.0  # oracle and AET markers (pt)
    panel_size: tuple[float, float] = (4.4, 3.4)  # one run's panel (inches)


def policy_curves(run: RunResult) -> dict[str, pd.DataFrame]:
    """Per policy in the sweep: param, avg_timesteps, accuracy_pct, sorted by average timesteps."""
    curves = {}
    for policy in policy_order(run.sweep["policy"].unique()):
        rows = run.policy_rows(policy)
        curves[policy] = (
            pd.DataFrame(
                {
                    "param": rows["param"].to_numpy(dtype=np.float64),
                    "avg_timesteps": rows["avg_timesteps"].to_numpy(dtype=np.float64),
                    "accuracy_pct": 100.0 * rows["accuracy"].to_numpy(dtype=np.float64),
                }
            )
            .sort_values(["avg_timesteps", "param"], kind="stable")
            .reset_index(drop=True)
        )
    return curves


def plot_exit_policies(ax: Axes, run: RunResult, style: ExitPoliciesStyle | None = None) -> None:
    """Accuracy (%) against average timesteps per input for every policy of `run`, oracle and AET marked."""
    style = style or ExitPoliciesStyle()
    colors, markers = dict(style.colors), dict(style.markers)
    for policy, curve in policy_curves(run).items():
        color, label = colors.get(policy, "tab:gray"), POLICY_LABELS.get(policy, policy)
        if policy == "oracle":
            ax.plot(
                curve["avg_timesteps"],
                curve["accuracy_pct"],
                linestyle="none",
                marker=markers["oracle"],
                markersize=style.highlight_size,
                color=color,
                label=label,
            )
            continue
        ax.plot(
            curve["avg_timesteps"],
            curve["accuracy_pct"],
            marker=markers.get(policy, "."),
            markersize=style.marker_size,
            color=color,
            label=label,
            linewidth=1.0,
        )
    full = 100.0 * float(run.accuracy_per_t[-1])
    ax.plot(
        [run.aet],
        [full],
        linestyle="none",
        marker="*",
        markersize=style.highlight_size + 4,
        color=style.aet_color,
        label=f"AET = {run.aet:.3f} (at full-T accuracy)",
    )
    route = ROUTES.get(run.method, run.method)
    ax.set_title(f"{run.paper_model} on {run.label}\n{route}, T = {run.T}", fontsize=style.title_fontsize)
    ax.set_xlabel("average timesteps per input", fontsize=style.fontsize)
    ax.set_ylabel("top-1 accuracy (%)", fontsize=style.fontsize)
    ax.tick_params(labelsize=style.fontsize)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=style.fontsize, loc="lower right")


def exit_policies_figure(
    runs: Sequence[RunResult], style: ExitPoliciesStyle | None = None, ncols: int = 3
) -> Figure:
    """One panel per run (at most `ncols` a row): accuracy against average timesteps for all policies."""
    if not runs:
        raise ValueError("exit_policies_figure needs at least one run")
    style = style or ExitPoliciesStyle()
    fig, grid = panel_grid(len(runs), ncols, style.panel_size)
    for ax, run in zip(grid.flat, runs):
        plot_exit_policies(ax, run, style)
    fig.suptitle("Exit policies: accuracy against average timesteps", fontsize=style.title_fontsize)
    return fig
