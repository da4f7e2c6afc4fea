"""What width buys the directly trained net, and what it costs: a direct (TET) run as the params give it
(its curriculum included) trained at each of `--widths`, with the params' device and speed switches, as
the train_snn stage trains. Reported per width: validation and test accuracy of the output accumulated over
all T steps (95 % Wilson intervals), the test accuracy after each step, the paired McNemar test against
the first width on the same test images, and the training time.

    python -m benchmarks.direct_width --params profiles/cifar10-cpu.yaml --run cifar10-fastvgg-tet \\
        --widths 0.25 0.375 --out reports/benchmarks/direct_width.json

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
    args = parser.parse_args(argv)
    if any(w <= 0 for w in args.widths):
        parser.error(f"--widths must be positive, got {args.widths}")
    p, name, spec = load_run(args, "direct")

    data = load_data(p, spec, args.train_subset)
    variants = {
        f"width {width}": ({"width": width}, dataclasses.replace(spec, width=width)) for width in args.widths
    }
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
