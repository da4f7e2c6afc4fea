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
        **result_head("timestep_curriculum", argv, name, spec),
        "width": spec.width,
        "T": spec.T,
        "train_images": len(data.y_train),
        "rows": rows,
    }
    return write_result(result, args.out)


if __name__ == "__main__":
    main()
