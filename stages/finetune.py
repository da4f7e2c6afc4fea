"""Stage `finetune`: SEENN-II on one directly trained SNN, at one beta (the headline `beta` or a grid
value): train the ResNet-8 policy (jointly with the SNN by default), then let it pick each test input's
timesteps. Writes the finetuned SNN's outputs, the policy's choices and the SEENN-II operating point."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import typer

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.core.config import candidate_steps
from pipeline.exits.policies import chosen_exit, fixed_exit
from pipeline.seenn2.policy import policy_input
from pipeline.snn.networks import build_direct_snn
from pipeline.snn.opcount import macs_per_input
from pipeline.data.prepared import example_input, to_sequence
from pipeline.seenn2.finetune import finetune_policy
from pipeline.training.recipes import Execution
from pipeline.exits.sweep import SWEEP_COLUMNS
from stages.common import fail, load_params, provenance
from stages.training_io import CheckpointFile, EpochLogger, fingerprint, load_data_for, save_model, save_timestep_logits, start_training


def finetune(
    run: str = typer.Argument(..., help="direct run to finetune, listed in seenn2.runs"),
    base: Path = typer.Option(..., help="the run's folder (model.pt, run.json from train_snn)"),
    out: Path = typer.Option(..., help="folder to write"),
    beta: float | None = typer.Option(None, help="penalty for a wrong prediction; default: params `beta`"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Train a SEENN-II policy (exact expected reward, eq. 10/12) and evaluate it on the test set."""
    p = load_params(params)
    if run not in p.seenn2.runs:
        fail(f"run {run!r} is not in seenn2.runs of {params}; listed: {', '.join(p.seenn2.runs) or 'none'}")
    beta = p.beta if beta is None else beta
    if not beta >= 0:
        fail(f"--beta = {beta} is not allowed: a value >= 0")
    spec = p.direct[run]
    for f in ("model.pt", "run.json"):
        if not (base / f).is_file():
            fail(f"{base / f} is missing: run the train_snn stage of {run} first")
    base_record = json.loads((base / "run.json").read_text())
    device, execution = start_training(p)  # under torchrun every process finetunes the same (replicated)
    main = execution.process.is_main  # only the main process writes
    dataset = load_data_for(run, spec.dataset, Path(base_record["data_dir"]))
    snn = build_direct_snn(spec, dataset.info)
    snn.load_state_dict(torch.load(base / "model.pt", map_location="cpu", weights_only=True))
    ckpt = CheckpointFile(out, fingerprint("finetune", run, vars(spec), vars(p.seenn2), beta, p.seed, p.device, p.deterministic))
    logger = EpochLogger(out / "live") if main else None
    try:
        snn, policy, metrics, (logits, choice, probs) = finetune_policy(
            snn, spec, p.seenn2, beta, dataset, p.seed, device, logger, ckpt.checkpointing(p.checkpoint_every, main),
            Execution(workers=execution.workers),  # reference speed path, no shards: replicated under torchrun
        )
    except FloatingPointError as err:
        fail(f"finetune {run}: {err} (last checkpoint kept: {ckpt.path})")
    if not main:
        return
    logger.close()

    labels = dataset.y_test
    decision = chosen_exit(logits, choice)
    row = pd.DataFrame(
        [("seenn2", beta, decision.accuracy(labels), decision.avg_timesteps())], columns=SWEEP_COLUMNS
    )
    x0 = example_input(dataset.info)
    policy_macs = macs_per_input(policy.cpu(), policy_input(x0, dataset.info, p.seenn2.policy_input_size))
    snn_macs = macs_per_input(snn.cpu(), to_sequence(x0, dataset.info, 1))
    candidates = candidate_steps(p.seenn2.candidates, spec.T)
    save_model(out / "model.pt", snn)
    save_model(out / "policy.pt", policy)
    save_timestep_logits(out / "timestep_logits.npz", logits, labels)
    write_atomic(
        out / "policy.npz",
        lambda tmp: np.savez(tmp, choice=choice, probs=probs.astype(np.float32), candidates=np.array(candidates)),
    )
    write_atomic(out / "seenn2.csv", lambda tmp: row.to_csv(tmp, index=False, float_format="%.6g"))
    record = {
        "base_run": run,
        "beta": beta,
        "variant": p.seenn2.variant,
        "candidates": list(candidates),
        "T": spec.T,
        "full_T_accuracy_after_finetune": fixed_exit(logits, spec.T).accuracy(labels),
        "policy_macs": policy_macs["total"],
        "snn_macs_per_timestep": snn_macs["total"],
        "policy_cost_in_snn_timesteps": policy_macs["total"] / snn_macs["total"],
        "last_epoch": metrics,
    }
    write_json_atomic(out / "seenn2.json", record)
    write_json_atomic(out / "provenance.json", provenance({"direct": vars(spec), "seenn2": vars(p.seenn2), "beta": beta}, p.seed, device))
    ckpt.clear()
    typer.echo(
        f"finetune: {run} beta={beta}: SEENN-II {decision.accuracy(labels):.1%} at {decision.avg_timesteps():.2f} "
        f"steps (full T after finetune {record['full_T_accuracy_after_finetune']:.1%}); policy = "
        f"{record['policy_cost_in_snn_timesteps']:.1%} of one SNN timestep -> {out}"
    )
