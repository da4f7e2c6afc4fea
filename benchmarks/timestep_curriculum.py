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
import json
import sys
import time
from pathlib import Path

from benchmarks.recipe_ablation import accuracy_cell, paired_counts
from pipeline.core.cpu import pin_cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("profiles/cifar10-cpu.yaml"))
    parser.add_argument("--run", default=None, help="a direct run of the params (default: the first)")
    parser.add_argument("--plain-epochs", type=int, required=True, help="epochs at T without the curriculum")
    parser.add_argument(
        "--curriculum",
        type=int,
        nargs=3,
        default=None,
        metavar=("EPOCHS", "SHORT_T", "SHORT_EPOCHS"),
        help="override the run's epochs, curriculum_T and curriculum_epochs",
    )
    parser.add_argument("--train-subset", type=int, default=0, help="the first N training images (0: all)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    pin_cpu(args.params)  # before torch and numpy load, as `seenn` does

    import numpy as np
    import torch
    import yaml

    from benchmarks.machine import describe
    from pipeline.core.config import parse_params
    from pipeline.data import prepare_dataset
    from pipeline.training.context import TrainingContext
    from pipeline.training.recipes import train_direct, validation_logits
    from pipeline.training.session import start_execution

    p = parse_params(yaml.safe_load(args.params.read_text()))
    name = args.run or next(iter(p.direct))
    spec = p.direct[name]
    if args.curriculum:
        epochs, short_t, short_epochs = args.curriculum
        spec = dataclasses.replace(spec, epochs=epochs, curriculum_T=short_t, curriculum_epochs=short_epochs)
    if not spec.curriculum_epochs:
        parser.error(
            f"direct.{name} has no timestep curriculum: give --curriculum EPOCHS SHORT_T SHORT_EPOCHS"
        )
    data = prepare_dataset(spec.dataset, p.data, p.seed)
    if args.train_subset:
        n = args.train_subset
        data = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    plain = dataclasses.replace(spec, epochs=args.plain_epochs, curriculum_T=0, curriculum_epochs=0)
    variants = {
        f"T = {spec.T} throughout, {plain.epochs} epochs": plain,
        f"curriculum: {spec.curriculum_epochs} epochs at T = {spec.curriculum_T}, "
        f"then {spec.epochs - spec.curriculum_epochs} at T = {spec.T}": spec,
    }
    # the params' device and speed switches, as the train_snn stage trains (the same bytes)
    device, execution = start_execution(p, distributed=False)
    rows, reference = [], None
    for label, run in variants.items():
        start = time.perf_counter()
        model, test_logits, _ = train_direct(run, data, p.seed, TrainingContext(device, execution))
        seconds = time.perf_counter() - start
        val_logits, y_val = validation_logits(model, data, run.T, device, execution)
        # the output accumulated over all T steps, as every accuracy of the pipeline
        got = {
            "val": val_logits.sum(0).argmax(-1) == y_val,
            "test": test_logits.sum(0).argmax(-1) == data.y_test,
        }
        row = {"variant": label, "epochs": run.epochs, "train_seconds": round(seconds, 1)}
        row.update({split: accuracy_cell(hits) for split, hits in got.items()})
        if reference is None:
            reference = got["test"]
        else:
            row["test_minus_plain_pts"] = 100 * (np.mean(got["test"]) - np.mean(reference))
            row.update(paired_counts(reference, got["test"]))
        rows.append(row)
        t = row["test"]
        print(
            f"{label}: test {100 * t['accuracy']:.2f} % [{100 * t['low']:.2f}, {100 * t['high']:.2f}]"
            f" val {100 * row['val']['accuracy']:.2f} % train {seconds:.0f} s",
            flush=True,
        )
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
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
