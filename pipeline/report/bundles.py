"""What each report stage writes, computed as `{file name: content}` before anything is written
(`pipeline.report.files.write_report_files` then writes them)."""

from collections.abc import Sequence

from pipeline.core.config import Params
from pipeline.report import tables as paper_tables
from pipeline.report.table_markdown import table_notes, to_markdown
from pipeline.report.claim import half_budget
from pipeline.report.exit_policies import comparison
from pipeline.report.exit_policies_figure import exit_policies_figure, policy_curves
from pipeline.report.exit_policies_markdown import to_markdown as policies_markdown
from pipeline.report.figures import figure1, figure4
from pipeline.report.files import ReportFile
from pipeline.report.results import RunResult


def tables_bundle(results: Sequence[RunResult], p: Params, has_seenn2: bool) -> dict[str, ReportFile]:
    """Tables 1-5 (markdown and CSV twin) in the paper's layout with ours beside the published numbers,
    and the exit-policy comparison."""
    alphas = [p.alpha, *p.tables.alphas][:3]
    betas = [p.beta, *[b for b in p.seenn2.betas if b != p.beta]][:3] if has_seenn2 else None
    timesteps = [*p.tables.timesteps, None]
    tidies = {
        1: paper_tables.table1(results, alphas=alphas, timesteps=timesteps, betas=betas),
        2: paper_tables.table2(results, alphas=alphas, timesteps=timesteps),
        3: paper_tables.table3(results, alphas=alphas, betas=betas),
        4: paper_tables.table4(results, alphas=alphas, timesteps=timesteps, betas=betas),
        5: paper_tables.table5(results),
    }
    files: dict[str, ReportFile] = {}
    for k, tidy in tidies.items():
        shown = [r for r in results if r.run in set(tidy["run"].dropna())]
        notes = table_notes(shown) if k == 5 else table_notes(shown, alphas, timesteps, betas)
        files[f"table{k}.csv"] = tidy
        files[f"table{k}.md"] = to_markdown(tidy, paper_tables.TABLE_TITLES[k], notes)
    policies = comparison(results)
    files["exit_policies.csv"] = policies
    files["exit_policies.md"] = policies_markdown(policies)
    files["claim.csv"] = half_budget(results)  # the paper's claim at <= T/2 timesteps (docs blocks "claim-*")
    return files


def figures_bundle(results: Sequence[RunResult]) -> dict[str, ReportFile]:
    """Figures 1 and 4 and the exit-policy figure, each as PNG and PDF."""
    figs = {
        "figure1": figure1(results),
        "figure4": figure4(results),
        "exit_policies": exit_policies_figure(results),
    }
    return {f"{name}.{suffix}": fig for name, fig in figs.items() for suffix in ("png", "pdf")}


def curves_bundle(results: Sequence[RunResult]) -> dict[str, ReportFile]:
    """Every policy's accuracy against average timesteps, one CSV per run and policy
    (`<run>/<policy>.csv`: param, avg_timesteps, accuracy_pct), which dvc.yaml declares as plots so that
    `dvc plots diff` draws two experiments' sweep curves."""
    return {
        f"{run.run}/{policy}.csv": curve for run in results for policy, curve in policy_curves(run).items()
    }
