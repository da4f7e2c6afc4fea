"""Train the embedded default's directly trained runs with each surrogate gradient and compare them on the
same test inputs: full-T accuracy with its 95 % Wilson interval, and McNemar's exact test of each surrogate
against the first (paired: the same test inputs).

    python -m benchmarks.surrogate_compare                       # r19 and vgg16, dspike against triangle
    python -m benchmarks.surrogate_compare --runs r19 --surrogates dspike triangle dspike_unit

Everything else is the run's own recipe from params.yaml (epochs, lr, widths, the data stage's split), on
the CPU pins the `seenn` entry point uses (run it through `seenn`'s environment: the pins are applied here
too, before torch loads). The last line per run is machine-readable.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from benchmarks.trained_variants import at_least_one, pin_cpu_with_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--runs", nargs="+", default=["r19", "vgg16"])
    parser.add_argument("--surrogates", nargs="+", default=["dspike", "triangle"])
    parser.add_argument("--epochs", type=int, default=None, help="override each run's epochs (a quick check)")
    parser.add_argument(
        "--train-subset", type=int, default=0, help="train on the first N training inputs only (0: all)"
    )
    parser.add_argument(
        "--threads",
        type=at_least_one,
        default=None,
        help="intra-op threads (default: the params' cpu.threads)",
    )
    args = parser.parse_args()
    pin_cpu_with_threads(args.params, args.threads)  # before torch and numpy load, as `seenn` does

    import numpy as np
    import yaml

    from pipeline.core.config import parse_params
    from pipeline.data import prepare_dataset
    from pipeline.exits.stats import mcnemar_exact, wilson_interval
    from pipeline.training.recipes import train_direct

    p = parse_params(yaml.safe_load(args.params.read_text()))
    for run in args.runs:
        spec = p.direct[run]
        if args.epochs is not None:
            spec = dataclasses.replace(spec, epochs=args.epochs)
        data = prepare_dataset(spec.dataset, p.data, p.seed)
        if args.train_subset:
            n = args.train_subset
            data = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
        correct = {}
        for surrogate in args.surrogates:
            _, logits, _ = train_direct(dataclasses.replace(spec, surrogate=surrogate), data, p.seed)
            correct[surrogate] = logits.sum(0).argmax(-1) == data.y_test  # full-T accuracy, summed output
            k, n = int(correct[surrogate].sum()), len(data.y_test)
            low, high = wilson_interval(k, n)
            print(
                f"{run} {surrogate}: {100 * k / n:.2f} % [{100 * low:.2f}, {100 * high:.2f}] ({k}/{n})",
                flush=True,
            )
        first = args.surrogates[0]
        for other in args.surrogates[1:]:
            p_value = mcnemar_exact(correct[first], correct[other])
            diff = 100 * (np.mean(correct[first]) - np.mean(correct[other]))
            print(f"run={run} {first}_minus_{other}_pts={diff:.2f} mcnemar_p={p_value:.4f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
