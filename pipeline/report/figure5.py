"""Figure 5 of the paper: what the SEENN-II policy learned. For each SEENN-II run (its headline beta), test
inputs the policy sends to the fewest timesteps beside inputs it sends to the most.

The data: `policy.npz` of the finetune folder (`choice [N]`, 1-based timesteps per test input) and the test
images of the base run's prepared dataset (`x_test`, read with numpy only, so the figures stage loads no
torch). Event inputs are shown as their event count summed over frames and polarities.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipeline.core.config import Params
from pipeline.core.layout import run_dir, seenn2_dir


@dataclass(frozen=True)
class PolicyExamples:
    """One SEENN-II run's test inputs grouped by the policy's choice."""

    run: str  # the base run
    label: str  # e.g. "ResNet-19 on digits (sklearn 8x8), beta 0.1"
    early_step: int  # the smallest chosen timestep
    late_step: int  # the largest chosen timestep
    early: np.ndarray  # [k, H, W] images sent to early_step (first k in test order)
    late: np.ndarray  # [k, H, W] images sent to late_step
    early_share: float  # fraction of the test set sent to early_step
    late_share: float  # ... to late_step


def _as_image(x: np.ndarray) -> np.ndarray:
    """`[C, H, W]` image or `[frames, 2, H, W]` events -> `[H, W]` for display."""
    x = x.astype(np.float64)
    while x.ndim > 2:
        x = x.sum(axis=0) if x.ndim == 4 or x.shape[0] != 3 else x.mean(axis=0)
    return x


def policy_examples(p: Params, runs: Path, per_group: int = 8) -> list[PolicyExamples]:
    """The examples of every SEENN-II run the params name (headline beta), in params order."""
    out = []
    for name in p.seenn2.runs:
        folder, base = seenn2_dir(runs, name), run_dir(runs, name)
        for path in (folder / "policy.npz", folder / "seenn2.json", base / "run.json"):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing (run the finetune and train_snn stages first)")
        with np.load(folder / "policy.npz") as z:
            choice = z["choice"]
        record = json.loads((base / "run.json").read_text())
        prepared = Path(record["data_dir"]) / "prepared.npz"
        if not prepared.is_file():
            continue  # streamed data (ImageNet) keep no images in memory: no examples to draw
        with np.load(prepared) as z:
            x_test = z["x_test"]
        if len(x_test) != len(choice):
            raise ValueError(f"{folder / 'policy.npz'}: {len(choice)} choices for {len(x_test)} test inputs")
        early, late = int(choice.min()), int(choice.max())
        beta = json.loads((folder / "seenn2.json").read_text()).get("beta")
        out.append(
            PolicyExamples(
                run=name,
                label=f"{record['paper_model']} on {record['dataset_label']}, β = {beta:g}",
                early_step=early,
                late_step=late,
                early=np.stack([_as_image(x) for x in x_test[choice == early][:per_group]]),
                late=np.stack([_as_image(x) for x in x_test[choice == late][:per_group]]),
                early_share=float((choice == early).mean()),
                late_share=float((choice == late).mean()),
            )
        )
    return out


def figure5(examples: Sequence[PolicyExamples], per_row: int = 8) -> Figure:
    """One row pair per run: the inputs sent to the fewest timesteps, then those sent to the most."""
    fig = Figure(figsize=(1.1 * per_row, 2.6 * max(len(examples), 1)), layout="constrained")
    if not examples:
        fig.text(0.5, 0.5, "no SEENN-II run with in-memory test images", ha="center", va="center")
        return fig
    rows = fig.subfigures(len(examples), 1, squeeze=False)[:, 0]
    for sub, ex in zip(rows, examples):
        sub.suptitle(ex.label, fontsize=9)
        axes = sub.subplots(2, per_row, squeeze=False)
        for r, (images, step, share) in enumerate(
            ((ex.early, ex.early_step, ex.early_share), (ex.late, ex.late_step, ex.late_share))
        ):
            for c in range(per_row):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(images):
                    ax.imshow(images[c], cmap="gray_r", interpolation="nearest")
                else:
                    ax.set_axis_off()
            axes[r, 0].set_ylabel(f"t = {step}\n({share:.0%})", fontsize=8)
    return fig
