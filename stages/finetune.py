"""Stage `finetune`: SEENN-II on one directly trained SNN, at one beta (the headline `beta` or a grid
value): train the ResNet-8 policy (jointly with the SNN by default), then let it pick each test input's
timesteps. Writes the finetuned SNN's outputs, the policy's choices and the SEENN-II operating point."""

from pathlib import Path

import typer

from pipeline.seenn2.workflow import finetune_run
from stages.common import PARAMS_OPTION, fail, load_params, one_line_errors, require_run


def finetune(
    run: str = typer.Argument(..., help="direct run to finetune, listed in seenn2.runs"),
    base: Path = typer.Option(..., help="the run's folder (model.pt, run.json from train_snn)"),
    out: Path = typer.Option(..., help="folder to write"),
    beta: float | None = typer.Option(None, help="penalty for a wrong prediction; default: params `beta`"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Train a SEENN-II policy (exact expected reward, eq. 10/12) and evaluate it on the test set."""
    p = load_params(params)
    require_run({r: None for r in p.seenn2.runs}, run, "seenn2.runs", params)
    beta = p.beta if beta is None else beta
    if not beta >= 0:
        fail(f"--beta = {beta} is not allowed: a value >= 0")
    with one_line_errors():
        record = finetune_run(p, run, base, out, beta)
    if record is not None:  # the main process
        typer.echo(
            f"finetune: {run} beta={beta}: SEENN-II {record['accuracy']:.1%} "
            f"at {record['avg_timesteps']:.2f} steps "
            f"(full T after finetune {record['full_T_accuracy_after_finetune']:.1%}); policy = "
            f"{record['policy_cost_in_snn_timesteps']:.1%} of one SNN timestep -> {out}"
        )
