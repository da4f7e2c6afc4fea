"""What the training benchmarks share (recipe_ablation, timestep_curriculum, direct_width): their common
options, loading the params, run and data as the stages do, scoring a trained variant with its interval and
the paired McNemar test against a reference, one progress line per variant, and the JSON output."""

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

from pipeline.core.cpu import cpu_env, cpu_settings


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


def pin_cpu_with_threads(params_file: Path, threads: int | None = None) -> dict[str, str]:
    """Pin the instruction set and threads of `params_file`'s `cpu` section (with `threads` in place of
    its thread count when given) and keep freed memory for reuse, as `seenn` does; return what was set.
    Call before torch or numpy is imported: the libraries read these variables once, when they load."""
    from pipeline.core.memory import keep_freed_memory

    isa, own_threads = cpu_settings(params_file)
    env = cpu_env(isa, threads or own_threads)
    os.environ.update(env)
    keep_freed_memory()
    return env


def at_least_one(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def common_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    """The options every training benchmark has: the params file, a run of `section`, a training subset
    and the JSON output."""
    parser.add_argument("--params", type=Path, default=Path("profiles/cifar10-cpu.yaml"))
    parser.add_argument("--run", default=None, help=f"a {section} run of the params (default: the first)")
    parser.add_argument("--train-subset", type=int, default=0, help="the first N training images (0: all)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--threads",
        type=at_least_one,
        default=None,
        help="intra-op threads (default: the params' cpu.threads)",
    )


def load_run(args: argparse.Namespace, section: str):
    """Pin the CPU as the params say (before torch and numpy load, as `seenn` does; `--threads` replaces
    the params' thread count), then return the parsed params, the run's name and its spec."""
    pin_cpu_with_threads(args.params, args.threads)
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


def result_head(script: str, argv: list[str] | None, name: str, spec) -> dict:
    """The first keys of a training benchmark's JSON: the command that wrote it, the machine (with the
    threads torch ran on), the run and its model."""
    import sys

    import torch

    from benchmarks.machine import describe

    return {
        "command": f"python -m benchmarks.{script} " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": describe(threads=torch.get_num_threads()),
        "run": name,
        "model": spec.model,
    }


def write_result(result: dict, out: Path | None) -> dict:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


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
