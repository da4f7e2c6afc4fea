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
import time

from benchmarks.trained_variants import (
    accuracy_cell,
    common_arguments,
    load_data,
    load_run,
    paired_counts,
    print_row,
    result_head,
    write_result,
)

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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "conversion")
    parser.add_argument("--epochs", type=int, default=None, help="override the run's epochs")
    parser.add_argument("--width", type=float, default=None, help="override the run's width")
    parser.add_argument("--only", nargs="*", default=None, help="train only these variants")
    args = parser.parse_args(argv)
    p, name, spec = load_run(args, "conversion")

    import numpy as np

    from pipeline.data.prepared import to_sequence
    from pipeline.training.context import Execution
    from pipeline.training.feeds import eval_feed
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
        **result_head("recipe_ablation", argv, name, spec),
        "width": spec.width,
        "epochs": spec.epochs,
        "train_images": int(len(data.y_train)),
        "ingredients": INGREDIENTS,
        "rows": rows,
    }
    return write_result(result, args.out)


if __name__ == "__main__":
    main()
