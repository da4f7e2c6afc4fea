"""What width and more short-T epochs buy the directly trained net, and what they cost: a direct (TET) run
as the params give it (its curriculum included) trained at each of `--widths` and, with
`--curriculum-epochs`, with each of these counts of epochs at the curriculum's short T (the epochs at T
stay the run's), with the params' device and speed switches, as the train_snn stage trains. Reported per
variant: validation and test accuracy of the output accumulated over all T steps (95 % Wilson
intervals), the test accuracy after each step, the paired McNemar test against the first variant on the
same test images, and the training time.

    python -m benchmarks.direct_width --params profiles/cifar10-cpu.yaml --run cifar10-fastvgg-tet \\
        --widths 0.25 0.375 --out reports/benchmarks/direct_width.json
    python -m benchmarks.direct_width --params profiles/cifar10-cpu.yaml --run cifar10-fastvgg-tet \\
        --widths 0.25 --curriculum-epochs 6 10 --out reports/benchmarks/direct_epochs.json

Run it alone: on 2 cores anything else running changes the times.
"""

import argparse
import dataclasses

from benchmarks.trained_variants import (
    common_arguments,
    compare_trainings,
    load_data,
    load_run,
    result_head,
    write_result,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "direct")
    parser.add_argument(
        "--widths", type=float, nargs="+", required=True, help="widths to train, the first the reference"
    )
    parser.add_argument(
        "--curriculum-epochs",
        type=int,
        nargs="+",
        default=None,
        help="epochs at the curriculum's short T to train, each (default: the run's own)",
    )
    args = parser.parse_args(argv)
    if any(w <= 0 for w in args.widths):
        parser.error(f"--widths must be positive, got {args.widths}")
    if args.curriculum_epochs is not None and any(c < 0 for c in args.curriculum_epochs):
        parser.error(f"--curriculum-epochs must be 0 or more, got {args.curriculum_epochs}")
    p, name, spec = load_run(args, "direct")
    if args.curriculum_epochs is not None and spec.curriculum_T == 0:
        parser.error(f"--curriculum-epochs: run {name} has no timestep curriculum (its curriculum_T is 0)")

    at_T = spec.epochs - spec.curriculum_epochs  # the epochs at the run's T: every variant keeps them
    variants = {}
    for width in args.widths:
        for short in args.curriculum_epochs or [spec.curriculum_epochs]:
            if short + at_T < 1:
                parser.error(f"--curriculum-epochs {short}: run {name} would train no epoch")
            run = dataclasses.replace(spec, width=width, epochs=short + at_T, curriculum_epochs=short)
            variants[f"width {width}, {short} + {at_T} epochs"] = ({"width": width}, run)
    data = load_data(p, spec, args.train_subset)
    rows = compare_trainings(variants, data, p, "test_minus_first_pts")
    result = {
        **result_head("direct_width", argv, name, spec),
        "T": spec.T,
        "epochs": spec.epochs,
        "curriculum_T": spec.curriculum_T,
        "curriculum_epochs": spec.curriculum_epochs,
        "train_images": len(data.y_train),
        "rows": rows,
    }
    return write_result(result, args.out)


if __name__ == "__main__":
    main()
