"""Tests for `pipeline/report/figures.py`: data helpers, axes counts, and saving to PNG and PDF."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from pipeline.report.figures import (
    FigureStyle,
    accuracy_curve,
    exit_shares_at,
    figure1,
    figure4,
    pie_alphas,
    plot_figure1,
    tradeoff_curves,
)
from pipeline.report.results import load_runs

# The fake run folders are shared with the table tests (pytest puts tests/ on sys.path).
from tests.report.test_tables import ALPHA_GRID, write_fake_runs


@pytest.fixture
def runs(tmp_path):
    return load_runs(write_fake_runs(tmp_path / "runs"))


def test_figure_data(runs):
    run = runs[0]
    curve = accuracy_curve(run)
    assert list(curve["T"]) == [1, 2, 3, 4]
    np.testing.assert_allclose(curve["accuracy_pct"], 100 * run.accuracy_per_t)
    curves = tradeoff_curves(run)
    assert set(curves) == {"fixed", "seenn1", "seenn2"}  # topk rows are not drawn
    assert np.all(np.diff(curves["seenn1"]["avg_timesteps"]) >= 0)
    assert set(tradeoff_curves(runs[1])) == {"fixed", "seenn1"}
    alphas = pie_alphas(run, 3)
    assert alphas == [ALPHA_GRID[0], ALPHA_GRID[2], ALPHA_GRID[-1]]
    shares = exit_shares_at(run, alphas[0])
    assert shares.shape == (run.T,) and shares.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alpha = 0.123"):
        exit_shares_at(run, 0.123)


def test_figure1_axes_and_saving(runs, tmp_path):
    fig = figure1(runs)
    assert isinstance(fig, Figure) and len(fig.axes) == len(runs)
    titles = [ax.get_title() for ax in fig.axes]
    assert any("simulated" in title for title in titles)
    assert all("CIFAR" not in title for title in titles)
    for suffix in ("png", "pdf"):
        path = tmp_path / f"figure1.{suffix}"
        fig.savefig(path, dpi=60)
        assert path.stat().st_size > 1000


def test_plot_figure1_on_caller_axes(runs):
    fig = Figure()
    grid = fig.subplots(2, 2, squeeze=False)
    plot_figure1(runs, grid, FigureStyle(fontsize=6))
    assert not grid[1, 1].axison  # the spare panel is switched off
    assert grid[0, 0].get_xlabel().startswith("timesteps")
    with pytest.raises(ValueError, match="axes"):
        plot_figure1(runs, grid[:1, :1], FigureStyle())


def test_figure4_axes_and_saving(runs, tmp_path):
    fig = figure4(runs)
    n_pies = FigureStyle().n_pies
    assert len(fig.axes) == len(runs) * (1 + n_pies)
    curves = [ax for ax in fig.axes if ax.get_xlabel() == "average timesteps per input"]
    assert len(curves) == len(runs)
    assert all(ax.get_legend() is not None for ax in curves)
    pie_titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("SEENN-I α")]
    assert len(pie_titles) == len(runs) * n_pies
    for suffix in ("png", "pdf"):
        path = tmp_path / f"figure4.{suffix}"
        fig.savefig(path, dpi=60)
        assert path.stat().st_size > 1000


def test_figures_need_runs():
    with pytest.raises(ValueError):
        figure1([])
    with pytest.raises(ValueError):
        figure4([])
