"""What the `finetune` stage does end to end: SEENN-II on one directly trained SNN at one beta, then the
policy's choices on the test set and the SEENN-II operating point, written into the run folder, with the
same point on the validation split (`seenn2_val.csv`, where the exit-policy comparison chooses beta)."""

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.core.config import Params, candidate_steps
from pipeline.core.errors import StageError
from pipeline.core.provenance import provenance
from pipeline.data.prepared import example_input, to_sequence
from pipeline.exits.points import POINT_COLUMNS, Point, decisions_arrays, points_table
from pipeline.exits.policies import chosen_exit, fixed_exit
from pipeline.seenn2.finetune import evaluate_seenn2, finetune_policy
from pipeline.seenn2.policy import policy_input
from pipeline.snn.networks import build_direct_snn
from pipeline.snn.opcount import macs_per_input
from pipeline.training.feeds import eval_feed
from pipeline.training.outputs import load_data_for, save_model, save_timestep_logits
from pipeline.training.session import TrainingSession


def validation_point(snn, policy, data, p: Params, T: int, beta: float, device: str, execution):
    """SEENN-II's operating point on the validation split as a `POINT_COLUMNS` frame (one line; none when
    the data have no validation split)."""
    import pandas as pd

    if data.y_val is None:
        return pd.DataFrame(columns=POINT_COLUMNS)
    candidates = candidate_steps(p.seenn2.candidates, T)
    feed = eval_feed(data, "val", device, execution)
    logits, choice, _, labels = evaluate_seenn2(
        snn, policy, feed, data.info, T, candidates, p.seenn2.policy_input_size, device
    )
    return points_table([Point("seenn2", beta, chosen_exit(logits, choice))], labels)


def finetune_run(p: Params, run: str, base: Path, out: Path, beta: float) -> dict | None:
    """Finetune `runs/<run>` (its `model.pt`, and the data its `run.json` names) with SEENN-II at `beta`;
    write the finetuned SNN, the policy, their test outputs and `seenn2.json`; return that record (None
    in a torchrun process that is not the main one)."""
    spec = p.direct[run]
    for name in ("model.pt", "run.json"):
        if not (base / name).is_file():
            raise StageError(f"{base / name} is missing: run the train_snn stage of {run} first")
    data_dir = Path(json.loads((base / "run.json").read_text())["data_dir"])
    key = (vars(spec), vars(p.seenn2), beta)
    with TrainingSession(p, "finetune", run, out, key) as session:
        data = load_data_for(run, spec.dataset, data_dir)
        snn = build_direct_snn(spec, data.info)
        snn.load_state_dict(torch.load(base / "model.pt", map_location="cpu", weights_only=True))
        snn, policy, metrics, (logits, choice, probs) = finetune_policy(
            snn, spec, p.seenn2, beta, data, p.seed, session.context
        )
        if not session.main:
            return None
        labels = data.y_test
        decision = chosen_exit(logits, choice)
        point = Point("seenn2", beta, decision)
        row = points_table([point], labels)
        x0 = example_input(data.info)
        policy_macs = macs_per_input(policy.cpu(), policy_input(x0, data.info, p.seenn2.policy_input_size))
        snn_macs = macs_per_input(snn.cpu(), to_sequence(x0, data.info, 1))
        candidates = candidate_steps(p.seenn2.candidates, spec.T)
        save_model(out / "model.pt", snn)
        save_model(out / "policy.pt", policy)
        save_timestep_logits(out / "timestep_logits.npz", logits, labels)
        write_atomic(
            out / "policy.npz",
            lambda tmp: np.savez(
                tmp, choice=choice, probs=probs.astype(np.float32), candidates=np.array(candidates)
            ),
        )
        write_atomic(out / "seenn2.csv", lambda tmp: row.to_csv(tmp, index=False, float_format="%.6g"))
        val_row = validation_point(snn, policy, data, p, spec.T, beta, session.device, session.execution)
        write_atomic(
            out / "seenn2_val.csv", lambda tmp: val_row.to_csv(tmp, index=False, float_format="%.6g")
        )
        decisions = decisions_arrays([point], labels)
        write_atomic(out / "decisions.npz", lambda tmp: np.savez_compressed(tmp, **decisions))
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
        section = {"direct": vars(spec), "seenn2": vars(p.seenn2), "beta": beta}
        write_json_atomic(out / "provenance.json", provenance(section, p.seed, session.device))
    return {**record, "accuracy": decision.accuracy(labels), "avg_timesteps": decision.avg_timesteps()}
