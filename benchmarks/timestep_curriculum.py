"""What the timestep curriculum of direct training buys on about the same wall time: a direct (TET) run as
the params give it, whose first `curriculum_epochs` epochs train at `curriculum_T` steps (much cheaper per
image), against the same run with the curriculum off, trained at T throughout for `--plain-epochs` epochs.
Both train with the params' device and speed switches, as the train_snn stage does. Reported: validation
and test accuracy of the output accumulated over all T steps (95 % Wilson intervals), the paired McNemar
test of the curriculum against plain training on the same test images, and the training times.

    python -m benchmarks.timestep_curriculum --params profiles/cifar10-cpu.yaml --run cifar10-fastvgg-tet \\
        --plain-epochs 3 --out reports/benchmarks/timestep_curriculum.json

Run it alone: on 2 cores anything else running changes the times.
"""

import argparse
import dataclasses
import sys
import time

from benchmarks.recipe_ablation import (
    accuracy_cell,
    common_arguments,
    load_data,
    load_run,
    paired_counts,
    print_row,
    write_result,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "direct")
    parser.add_argument("--plain-epochs", type=int, required=True, help="epochs at T without the curriculum")
    parser.add_argument(
        "--curriculum",
        type=int,
        nargs=3,
        default=None,
        metavar=("EPOCHS", "SHORT_T", "SHORT_EPOCHS"),
        help="override the run's epochs, curriculum_T and curriculum_epochs",
    )
    args = parser.parse_args(argv)
    p, name, spec = load_run(args, "direct")

    import torch

    from benchmarks.machine import describe

    if args.curriculum:
        epochs, short_t, short_epochs = args.curriculum
        spec = dataclasses.replace(spec, epochs=epochs, curriculum_T=short_t, curriculum_epochs=short_epochs)
    if not spec.curriculum_epochs:
        parser.error(
            f"direct.{name} has no timestep curriculum: give --curriculum EPOCHS SHORT_T SHORT_EPOCHS"
        )
    data = load_data(p, spec, args.train_subset)
    plain = dataclasses.replace(spec, epochs=args.plain_epochs, curriculum_T=0, curriculum_epochs=0)
    labels = [
        f"T = {spec.T} throughout, {plain.epochs} epochs",
        f"curriculum: {spec.curriculum_epochs} epochs at T = {spec.curriculum_T}, "
        f"then {spec.epochs - spec.curriculum_epochs} at T = {spec.T}",
    ]
    variants = {label: ({"variant": label}, run) for label, run in zip(labels, (plain, spec), strict=True)}
    rows = compare_trainings(variants, data, p, "test_minus_plain_pts")
    result = {
        "command": "python -m benchmarks.timestep_curriculum "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": describe(threads=torch.get_num_threads()),
        "run": name,
        "model": spec.model,
        "width": spec.width,
        "T": spec.T,
        "train_images": len(data.y_train),
        "rows": rows,
    }
    return write_result(result, args.out)


def compare_trainings(variants: dict[str, tuple[dict, object]], data, p, diff_key: str) -> list[dict]:
    """Train each variant (label -> (its row's own fields, its direct run)) in turn with the params' device
    and speed switches, as the train_snn stage trains (the same bytes); every row after the first gets its
    paired test difference to the first (points, under `diff_key`) and the McNemar counts."""
    import numpy as np

    from pipeline.training.session import start_execution

    device, execution = start_execution(p, distributed=False)
    rows, reference = [], None
    for label, (fields, run) in variants.items():
        row, hits = train_scored(run, data, p.seed, device, execution)
        row = {**fields, **row}
        if reference is None:
            reference = hits
        else:
            row[diff_key] = 100 * (np.mean(hits) - np.mean(reference))
            row.update(paired_counts(reference, hits))
        rows.append(row)
        print_row(label, row, row["train_seconds"])
    return rows


def train_scored(run, data, seed: int, device, execution) -> tuple[dict, object]:
    """Train a direct run as the train_snn stage does; return its row (epochs, seconds, each epoch's T and
    seconds, validation and test accuracy of the output accumulated over all T steps, and the test
    accuracy accumulated over the first t steps for each t) and its per-test-image correctness."""
    import numpy as np

    from pipeline.training.context import TrainingContext
    from pipeline.training.recipes import train_direct, validation_logits

    start = time.perf_counter()
    ends: list[float] = []  # when each epoch (its steps and its test pass) finished
    on_epoch = lambda epoch, metrics: ends.append(time.perf_counter())  # noqa: E731
    model, test_logits, _ = train_direct(run, data, seed, TrainingContext(device, execution, on_epoch))
    seconds = time.perf_counter() - start
    val_logits, y_val = validation_logits(model, data, run.T, device, execution)
    # the output accumulated over all T steps, as every accuracy of the pipeline; test_logits [T, N, C]
    hits = test_logits.sum(0).argmax(-1) == data.y_test
    steps = np.cumsum(test_logits, axis=0).argmax(-1) == data.y_test[None]  # [T, N]: after t + 1 steps
    row = {
        "epochs": run.epochs,
        "train_seconds": round(seconds, 1),
        # each epoch's T and seconds (the first epoch's include building the feeds)
        "epoch_T": [run.curriculum_T if e < run.curriculum_epochs else run.T for e in range(run.epochs)],
        "epoch_seconds": [round(b - a, 1) for a, b in zip([start, *ends], ends)],
        "val": accuracy_cell(val_logits.sum(0).argmax(-1) == y_val),
        "test": accuracy_cell(hits),
        "test_after_step": [round(float(s.mean()), 4) for s in steps],
    }
    return row, hits


if __name__ == "__main__":
    main()
