"""Figures 1 and 4 from run folders: compute the plotted data, then draw it on axes the caller owns.

Figures are built with `matplotlib.figure.Figure` (no pyplot state, no rcParams changes), so this works
under any backend and in parallel; styles are passed explicitly. Saving is the caller's job.

- Figure 1: accuracy (%) of the accumulated output against T = 1..T for each run, AET marked.
- Figure 4: left, accuracy against average timesteps per input: fixed-T points vs the SEENN-I curve over
  the alpha grid (SEENN-II points when the sweep has them), AET marked; right, pie charts of the share of
  inputs exiting at each t for a low, a middle and a high alpha of the grid.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pipeline.report.results import RunResult

_METHOD_WORDS = {"direct": "direct training (TET)", "conversion": "ANN-SNN conversion (QCFS)"}
_CURVE_POLICIES = ("fixed", "seenn1", "seenn2")  # others in the sweep (e.g. topk) are not drawn


@dataclass(frozen=True)
class FigureStyle:
    """Colours and sizes shared by both figures (the paper: fixed T in yellow/orange, SEENN-I in blue)."""

    fixed_color: str = "tab:orange"  # fixed-T SNN
    seenn1_color: str = "tab:blue"  # SEENN-I over the alpha grid
    seenn2_color: str = "tab:green"  # SEENN-II operating points
    aet_color: str = "tab:red"  # AET star
    pie_colormap: str = "viridis"  # colours of exit steps t = 1..T
    fontsize: float = 8.0  # labels, ticks, legends (pt)
    title_fontsize: float = 9.0  # panel titles (pt)
    marker_size: float = 5.0  # line markers (pt)
    aet_marker_size: float = 14.0  # AET star (pt)
    panel_size: tuple[float, float] = (4.2, 3.2)  # Figure 1 panel / Figure 4 curve panel (inches)
    pie_size: float = 2.0  # width of one Figure 4 pie (inches)
    n_pies: int = 3  # alphas drawn as pies in Figure 4 (low, middle, high of the grid)


# --- data --------------------------------------------------------------------------------------------


def run_title(run: RunResult) -> str:
    """Panel title: model, dataset label (simulated marked), training route and T."""
    route = _METHOD_WORDS.get(run.method, run.method)
    return f"{run.paper_model} on {run.label} ({run.run})\n{route}, T = {run.T}"


def accuracy_curve(run: RunResult) -> pd.DataFrame:
    """Figure 1 data: columns T (1..T) and accuracy_pct of the accumulated output."""
    return pd.DataFrame({"T": np.arange(1, run.T + 1), "accuracy_pct": 100.0 * run.accuracy_per_t})


def tradeoff_curves(run: RunResult) -> dict[str, pd.DataFrame]:
    """Figure 4 left data: per policy (fixed, seenn1, seenn2 when present), sorted by average timesteps.

    Each frame has columns param, avg_timesteps, accuracy_pct.
    """
    curves = {}
    for policy in _CURVE_POLICIES:
        rows = run.policy_rows(policy)
        if rows.empty:
            continue
        curve = pd.DataFrame(
            {
                "param": rows["param"].to_numpy(dtype=np.float64),
                "avg_timesteps": rows["avg_timesteps"].to_numpy(dtype=np.float64),
                "accuracy_pct": 100.0 * rows["accuracy"].to_numpy(dtype=np.float64),
            }
        )
        curves[policy] = curve.sort_values(["avg_timesteps", "param"], kind="stable").reset_index(drop=True)
    return curves


def pie_alphas(run: RunResult, n: int = 3) -> list[float]:
    """Up to `n` SEENN-I alphas of the exit-share grid, spread from lowest to highest."""
    alphas = np.sort(run.exit_shares.loc[run.exit_shares["policy"] == "seenn1", "param"].unique())
    if len(alphas) <= n:
        return [float(a) for a in alphas]
    picks = np.unique(np.round(np.linspace(0, len(alphas) - 1, n)).astype(int))
    return [float(alphas[i]) for i in picks]


def exit_shares_at(run: RunResult, alpha: float) -> np.ndarray:
    """`[T]` share of test inputs exiting at t = 1..T under SEENN-I with threshold `alpha`."""
    shares = run.exit_shares
    at_alpha = np.isclose(shares["param"].to_numpy(dtype=np.float64), alpha)
    rows = shares[(shares["policy"] == "seenn1").to_numpy() & at_alpha]
    if rows.empty:
        raise ValueError(f"{run.run}: exit_shares.csv has no seenn1 rows for alpha = {alpha}")
    out = np.zeros(run.T)
    for t, share in zip(rows["t"].astype(int), rows["share"].astype(float)):
        out[t - 1] += share
    return out


def _step_colors(T: int, style: FigureStyle) -> np.ndarray:
    """`[T, 4]` RGBA colour per exit step, the same in every pie and legend."""
    return colormaps[style.pie_colormap](np.linspace(0.1, 0.9, T))


# --- drawing -------------------------------------------------------------------------------------------


def _finish_axes(ax: Axes, xlabel: str, style: FigureStyle) -> None:
    ax.set_xlabel(xlabel, fontsize=style.fontsize)
    ax.set_ylabel("top-1 accuracy (%)", fontsize=style.fontsize)
    ax.tick_params(labelsize=style.fontsize)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=style.fontsize, loc="lower right")


def _mark_aet(ax: Axes, run: RunResult, style: FigureStyle) -> None:
    """Star at (AET, accuracy at full T): the ideal early exit keeps full-T accuracy at AET steps."""
    full = 100.0 * run.accuracy_per_t[-1]
    ax.plot(
        [run.aet],
        [full],
        linestyle="none",
        marker="*",
        markersize=style.aet_marker_size,
        color=style.aet_color,
        label=f"AET = {run.aet:.3f} (at T = {run.T} accuracy)",
    )


def plot_accuracy_vs_t(ax: Axes, run: RunResult, style: FigureStyle | None = None) -> None:
    """Figure 1 panel: accuracy against the number of timesteps T, with the AET marked."""
    style = style or FigureStyle()
    curve = accuracy_curve(run)
    ax.plot(
        curve["T"],
        curve["accuracy_pct"],
        marker="o",
        markersize=style.marker_size,
        color=style.fixed_color,
        label="accumulated output after T steps",
    )
    _mark_aet(ax, run, style)
    ax.set_xticks(curve["T"])
    ax.set_title(run_title(run), fontsize=style.title_fontsize)
    _finish_axes(ax, "timesteps T (every input)", style)


def plot_tradeoff(
    ax: Axes, run: RunResult, highlight: Sequence[float] = (), style: FigureStyle | None = None
) -> None:
    """Figure 4 left: accuracy against average timesteps per input, fixed T vs SEENN-I (and SEENN-II).

    Args:
        ax: axes to draw on.
        run: the run.
        highlight: SEENN-I alphas to annotate on the curve (those drawn as pies).
        style: colours and sizes.
    """
    style = style or FigureStyle()
    curves = tradeoff_curves(run)
    if "fixed" in curves:
        fixed = curves["fixed"]
        ax.plot(
            fixed["avg_timesteps"],
            fixed["accuracy_pct"],
            marker="s",
            markersize=style.marker_size,
            color=style.fixed_color,
            label=f"fixed T (T = 1..{run.T})",
        )
    if "seenn1" in curves:
        seenn1 = curves["seenn1"]
        ax.plot(
            seenn1["avg_timesteps"],
            seenn1["accuracy_pct"],
            marker="o",
            markersize=style.marker_size,
            color=style.seenn1_color,
            label="SEENN-I (alpha grid)",
        )
        for alpha in highlight:
            point = seenn1[np.isclose(seenn1["param"], alpha)]
            if not point.empty:
                ax.annotate(
                    f"α={alpha:g}",
                    (point["avg_timesteps"].iloc[0], point["accuracy_pct"].iloc[0]),
                    textcoords="offset points",
                    xytext=(5, 3),
                    fontsize=style.fontsize,
                    color=style.seenn1_color,
                )
    if "seenn2" in curves:
        seenn2 = curves["seenn2"]
        ax.plot(
            seenn2["avg_timesteps"],
            seenn2["accuracy_pct"],
            linestyle="none",
            marker="D",
            markersize=style.marker_size,
            color=style.seenn2_color,
            label="SEENN-II (beta values)",
        )
    _mark_aet(ax, run, style)
    ax.set_title(run_title(run), fontsize=style.title_fontsize)
    _finish_axes(ax, "average timesteps per input", style)


def plot_exit_pie(ax: Axes, shares: np.ndarray, alpha: float, style: FigureStyle | None = None) -> None:
    """One Figure 4 pie: share of inputs exiting at t = 1..T for one alpha."""
    style = style or FigureStyle()
    colors = _step_colors(len(shares), style)
    # Tiny wedges get no percentage, so labels do not pile up; the legend names every step.
    ax.pie(
        shares,
        colors=colors,
        startangle=90,
        counterclock=False,
        autopct=lambda pct: f"{pct:.0f}%" if pct >= 8 else "",
        textprops={"fontsize": style.fontsize, "color": "white"},
        wedgeprops={"linewidth": 0.5, "edgecolor": "white"},
    )
    mean_t = float(np.arange(1, len(shares) + 1) @ shares / max(shares.sum(), 1e-12))
    ax.set_title(f"SEENN-I α = {alpha:g}\n{mean_t:.2f} timesteps on average", fontsize=style.fontsize)
    ax.set_aspect("equal")


def plot_figure1(runs: Sequence[RunResult], ax_grid: np.ndarray, style: FigureStyle | None = None) -> None:
    """Draw Figure 1 on a grid of axes (one per run, in order); spare axes are switched off."""
    style = style or FigureStyle()
    axes = list(np.asarray(ax_grid).flat)
    if len(axes) < len(runs):
        raise ValueError(f"{len(runs)} runs need at least as many axes, got {len(axes)}")
    for ax, run in zip(axes, runs):
        plot_accuracy_vs_t(ax, run, style)
    for ax in axes[len(runs) :]:
        ax.set_axis_off()


def plot_figure4(runs: Sequence[RunResult], fig: Figure, style: FigureStyle | None = None) -> None:
    """Draw Figure 4 into `fig`: one row per run, the trade-off curve then up to `style.n_pies` pies."""
    style = style or FigureStyle()
    width_ratios = [style.panel_size[0], style.n_pies * style.pie_size]
    grid = fig.add_gridspec(len(runs), 2, width_ratios=width_ratios)
    for i, run in enumerate(runs):
        alphas = pie_alphas(run, style.n_pies)
        plot_tradeoff(fig.add_subplot(grid[i, 0]), run, highlight=alphas, style=style)
        if not alphas:
            continue
        pie_grid = grid[i, 1].subgridspec(1, len(alphas))
        pie_axes = [fig.add_subplot(pie_grid[0, k]) for k in range(len(alphas))]
        for ax, alpha in zip(pie_axes, alphas):
            plot_exit_pie(ax, exit_shares_at(run, alpha), alpha, style)
        colors = _step_colors(run.T, style)
        handles = [Patch(color=colors[t], label=f"t = {t + 1}") for t in range(run.T)]
        pie_axes[-1].legend(
            handles=handles,
            title="exit step",
            fontsize=style.fontsize,
            title_fontsize=style.fontsize,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
        )


# --- whole figures ------------------------------------------------------------------------------------


def panel_grid(n: int, ncols: int, panel_size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A figure with `n` panels, at most `ncols` a row; the unused cells of the last row are removed so
    the saved figure has no empty panels. Returns the figure and the `[rows, cols]` axes grid."""
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for ax in list(grid.flat)[n:]:
        fig.delaxes(ax)
    return fig, grid


def figure1(runs: Sequence[RunResult], style: FigureStyle | None = None, ncols: int = 3) -> Figure:
    """Figure 1: accuracy against T for every run (at most `ncols` panels a row)."""
    if not runs:
        raise ValueError("figure1 needs at least one run")
    style = style or FigureStyle()
    fig, grid = panel_grid(len(runs), ncols, style.panel_size)
    plot_figure1(runs, grid, style)
    fig.suptitle(
        "Accuracy of the spiking network against the number of timesteps (AET: ideal early exit)",
        fontsize=style.title_fontsize,
    )
    return fig


def figure4(runs: Sequence[RunResult], style: FigureStyle | None = None) -> Figure:
    """Figure 4: per run, the accuracy / average-timesteps trade-off and the exit-step composition."""
    if not runs:
        raise ValueError("figure4 needs at least one run")
    style = style or FigureStyle()
    width = style.panel_size[0] + style.n_pies * style.pie_size + 1.2  # + room for the step legend
    fig = Figure(figsize=(width, style.panel_size[1] * len(runs)), layout="constrained")
    plot_figure4(runs, fig, style)
    fig.suptitle(
        "SEENN-I against fixed-T SNNs (left) and share of inputs exiting at each timestep (right)",
        fontsize=style.title_fontsize,
    )
    return fig
