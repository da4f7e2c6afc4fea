"""What each ingredient of the fast recipe buys alone, on one budget: the QCFS ANN of a conversion run trained
with the paper's recipe (SGD, momentum 0.9, cosine, nothing else), then with each ingredient added on its own,
then with the CPU profile's combination; validation and test accuracy (95 % Wilson intervals), the paired
McNemar test of each against the paper's recipe on the same test images, and the training time.

    python -m benchmarks.recipe_ablation --params profiles/cifar10-cpu.yaml --run cifar10-fastvgg \\
        --epochs 2 --width 0.25 --out reports/benchmarks/recipe_ablation.json

The run's own settings (data, lr, batch, augmentation) stay; its ingredients are replaced by the variant's.
Flip test-time augmentation needs no training: it is the paper-recipe network evaluated on both mirror
images. The ANN's accuracy stands for the recipe here; its conversion adds the same IF simulation to each.
Run it alone: on 2 cores anything else running changes the times.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from pipeline.core.cpu import pin_cpu

# the recipe's ingredients at the values the CPU profile uses; "paper" has every one off
INGREDIENTS = {
    "label_smoothing": 0.2,
    "nesterov": True,
    "warmup_epochs": 0.5,
    "ema": 0.99,
}
OFF = {"label_smoothing": 0.0, "nesterov": False, "warmup_epochs": 0.0, "ema": 0.0, "tta_flip": False}


def variants() -> dict[str, dict]:
    """Name -> the ingredient values of that training (TTA is an evaluation of "paper")."""
    out = {"paper": dict(OFF)}
    for key, value in INGREDIENTS.items():
        out[f"+{key}"] = {**OFF, key: value}
    # the CPU profile's recipe: every training ingredient but the EMA, which the short budget punishes
    out["profile recipe (all but EMA)"] = {**OFF, **{k: v for k, v in INGREDIENTS.items() if k != "ema"}}
    return out


def accuracy_cell(hits) -> dict:
    """Accuracy of a boolean per-input correctness vector with its 95 % Wilson interval and n."""
    from pipeline.exits.stats import wilson_interval

    k, n = int(hits.sum()), len(hits)
    low, high = wilson_interval(k, n)
    return {"accuracy": k / n, "low": low, "high": high, "n": n}


def paired_counts(reference, hits) -> dict:
    """The exact McNemar test of `hits` against `reference` on the same inputs: b (right in the reference
    only), c (right in `hits` only) and the two-sided p."""
    from pipeline.exits.stats import mcnemar_exact

    return {
        "mcnemar_b": int((reference & ~hits).sum()),
        "mcnemar_c": int((~reference & hits).sum()),
        "mcnemar_p": mcnemar_exact(reference, hits),
    }


def common_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    """The options every training benchmark has: the params file, a run of `section`, a training subset
    and the JSON output."""
    parser.add_argument("--params", type=Path, default=Path("profiles/cifar10-cpu.yaml"))
    parser.add_argument("--run", default=None, help=f"a {section} run of the params (default: the first)")
    parser.add_argument("--train-subset", type=int, default=0, help="the first N training images (0: all)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")


def load_run(args: argparse.Namespace, section: str):
    """Pin the CPU as the params say (before torch and numpy load, as `seenn` does), then return the
    parsed params, the run's name and its spec."""
    pin_cpu(args.params)
    import yaml

    from pipeline.core.config import parse_params

    p = parse_params(yaml.safe_load(args.params.read_text()))
    runs = getattr(p, section)
    name = args.run or next(iter(runs))
    return p, name, runs[name]


def load_data(p, spec, train_subset: int = 0):
    """The run's prepared dataset, its training set cut to the first `train_subset` images when given."""
    from pipeline.data import prepare_dataset

    data = prepare_dataset(spec.dataset, p.data, p.seed)
    n = train_subset or len(data.y_train)
    return dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])


def print_row(label: str, row: dict, seconds: float) -> None:
    """One line per trained variant as it finishes: test accuracy with its interval, validation, time."""
    t = row["test"]
    print(
        f"{label}: test {100 * t['accuracy']:.2f} % [{100 * t['low']:.2f}, {100 * t['high']:.2f}]"
        f" val {100 * row['val']['accuracy']:.2f} % train {seconds:.0f} s",
        flush=True,
    )


def write_result(result: dict, out: Path | None) -> dict:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "conversion")
    parser.add_argument("--epochs", type=int, default=None, help="override the run's epochs")
    parser.add_argument("--width", type=float, default=None, help="override the run's width")
    parser.add_argument("--only", nargs="*", default=None, help="train only these variants")
    args = parser.parse_args(argv)
    p, name, spec = load_run(args, "conversion")

    import numpy as np
    import torch

    from benchmarks.machine import describe
    from pipeline.data.prepared import to_sequence
    from pipeline.training.feeds import eval_feed
    from pipeline.training.context import Execution
    from pipeline.training.loop import evaluate
    from pipeline.training.recipes import pretrain_ann

    spec = dataclasses.replace(
        spec, **{k: v for k, v in (("epochs", args.epochs), ("width", args.width)) if v}
    )
    data = load_data(p, spec, args.train_subset)
    execution = Execution()
    encode = lambda x: to_sequence(x, data.info, 1)  # noqa: E731  [1, N, C, H, W]

    def scores(model, tta: bool) -> dict:
        out = {}
        for split in ("val", "test"):
            logits, labels = evaluate(model, eval_feed(data, split, "cpu", execution), encode, tta=tta)
            out[split] = logits[0].argmax(-1) == labels
        return out

    chosen = variants()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only or k == "paper"}
    rows, correct = [], {}
    for variant, values in chosen.items():
        start = time.perf_counter()
        model, _ = pretrain_ann(dataclasses.replace(spec, **values), data, p.seed)
        seconds = time.perf_counter() - start
        evaluated = {variant: (scores(model, False), seconds)}
        if variant == "paper":
            evaluated["+tta_flip"] = (scores(model, True), 0.0)
        for label, (got, secs) in evaluated.items():
            correct[label] = got["test"]
            row = {"variant": label, "train_seconds": round(secs, 1)}
            row.update({split: accuracy_cell(hits) for split, hits in got.items()})
            if label != "paper":
                row["test_minus_paper_pts"] = 100 * (np.mean(got["test"]) - np.mean(correct["paper"]))
                row.update(paired_counts(correct["paper"], got["test"]))
            rows.append(row)
            print_row(label, row, secs)
    result = {
        "command": "python -m benchmarks.recipe_ablation "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": describe(threads=torch.get_num_threads()),
        "run": name,
        "model": spec.model,
        "width": spec.width,
        "epochs": spec.epochs,
        "train_images": int(len(data.y_train)),
        "ingredients": INGREDIENTS,
        "rows": rows,
    }
    return write_result(result, args.out)


if __name__ == "__main__":
    main()
