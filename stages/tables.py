"""Stage `tables`: the paper's Tables 1-5 (ours beside the published numbers) and the metrics file."""

from pathlib import Path

import typer

from pipeline.core.atomic import write_atomic, write_json_atomic, write_text_atomic
from pipeline.report import tables as T
from pipeline.report.exit_policies import comparison
from pipeline.report.exit_policies import to_markdown as policies_markdown
from pipeline.report.results import RunResult, attach_seenn2, load_runs
from stages.common import fail, load_params
from stages.layout import report_inputs


def headline_metrics(runs: list[RunResult], alpha: float, beta: float) -> dict:
    """Per run: full-T accuracy, SEENN-I at the headline alpha, SEENN-II at the headline beta (where the
    run has a policy), AET: what `dvc metrics show` and `dvc exp show` list."""
    out = {}
    for r in runs:
        s1 = r.policy_rows("seenn1")
        at = s1[s1.param == alpha]
        if at.empty:
            fail(f"{r.run}/sweep.csv has no SEENN-I row for alpha={alpha}: re-run its sweep stage")
        out[r.run] = {
            "T": r.T,
            "fixed_T_accuracy": round(float(r.accuracy_per_t[-1]), 6),
            "seenn1_accuracy": round(float(at.accuracy.iloc[0]), 6),
            "seenn1_avg_timesteps": round(float(at.avg_timesteps.iloc[0]), 6),
            "aet": round(r.aet, 6),
            "empirical_aet": round(r.empirical_aet, 6),
        }
        s2 = r.policy_rows("seenn2")
        at2 = s2[s2.param == beta]
        if not at2.empty:
            out[r.run]["seenn2_accuracy"] = round(float(at2.accuracy.iloc[0]), 6)
            out[r.run]["seenn2_avg_timesteps"] = round(float(at2.avg_timesteps.iloc[0]), 6)
    return {"alpha": alpha, "beta": beta, "runs": out}


def tables(
    runs: Path = typer.Option(Path("runs"), help="folder holding the run folders named in params"),
    out: Path = typer.Option(..., help="folder for table1..5 .md and .csv"),
    metrics: Path = typer.Option(..., help="metrics JSON to write (declared as DVC metrics)"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Regenerate Tables 1-5 in the paper's layout, each as markdown and a tidy CSV twin, and the
    comparison of every exit policy (SEENN-I, SEENN-II, SNNCutoff's Top-K, entropy, oracle)."""
    p = load_params(params)
    try:
        run_dirs, seenn2 = report_inputs(p, runs)
        results = attach_seenn2(load_runs(run_dirs), seenn2)
    except (FileNotFoundError, ValueError) as err:
        fail(str(err))
    alphas = [p.alpha, *p.tables.alphas][:3]
    betas = [p.beta, *[b for b in p.seenn2.betas if b != p.beta]][:3] if seenn2 else None
    timesteps = [*p.tables.timesteps, None]
    tidies = {
        1: T.table1(results, alphas=alphas, timesteps=timesteps, betas=betas),
        2: T.table2(results, alphas=alphas, timesteps=timesteps),
        3: T.table3(results, alphas=alphas, betas=betas),
        4: T.table4(results, alphas=alphas, timesteps=timesteps, betas=betas),
        5: T.table5(results),
    }
    # Compute everything first, then write: a failure above leaves the previous tables untouched.
    rendered = {}
    for k, tidy in tidies.items():
        shown = [r for r in results if r.run in set(tidy["run"].dropna())]
        notes = T.table_notes(shown) if k == 5 else T.table_notes(shown, alphas, timesteps, betas)
        rendered[k] = T.to_markdown(tidy, T.TABLE_TITLES[k], notes)
    summary = headline_metrics(results, p.alpha, p.beta)
    policies = comparison(results)
    policies_md = policies_markdown(policies)
    for k, tidy in tidies.items():
        write_atomic(out / f"table{k}.csv", lambda tmp, tidy=tidy: tidy.to_csv(tmp, index=False))
        write_text_atomic(out / f"table{k}.md", rendered[k])
    write_atomic(out / "exit_policies.csv", lambda tmp: policies.to_csv(tmp, index=False))
    write_text_atomic(out / "exit_policies.md", policies_md)
    write_json_atomic(metrics, summary)
    typer.echo(f"tables: Tables 1-5 from {len(results)} runs (headline alpha={p.alpha}) -> {out}, {metrics}")
