"""Measure the spine's budgets on this machine: cold `dvc repro` of the embedded default, a warm
`dvc repro` with nothing changed, and `dvc exp run -S alpha=0.9`, in a fresh sandbox copy.

usage: python -m benchmarks.pipeline_timing [--keep] [--dry-run] [--out FILE]
`--dry-run` builds the sandbox and lists the stages a cold run would run (`dvc status`), running none.
`--out` writes the times with the machine and the command as JSON (reports/benchmarks/pipeline_timing.json
is the committed one; run it alone on the machine).
Prints one line per measurement and a last summary line
`cold_s=<a> warm_s=<b> exp_alpha_s=<c> training_stages_in_exp=<n>`.
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe
from pipeline.core.atomic import write_json_atomic
from tests.sandbox import make_sandbox, run


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = run(cmd, cwd).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the sandbox folder")
    parser.add_argument("--dry-run", action="store_true", help="only list the stages of a cold run")
    parser.add_argument("--out", type=Path, help="write the times, machine and command as JSON here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="seenn-timing-"))
    try:
        project = make_sandbox(folder)
        if args.dry_run:
            _, out = timed(["dvc", "status", "--json"], project)
            print(f"planned_stages={len(json.loads(out))}")
            return
        cold, _ = timed(["dvc", "repro"], project)
        print(f"cold dvc repro: {cold:.1f} s")
        run(["git", "add", "-A"], project)
        run(["git", "commit", "-qm", "repro"], project)
        warm, _ = timed(["dvc", "repro"], project)
        print(f"warm dvc repro: {warm:.1f} s")
        exp, out = timed(["dvc", "exp", "run", "-S", "alpha=0.9"], project)
        stages = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")]
        training = [s for s in stages if s.split("@")[0] in ("data", "pretrain_ann", "convert", "train_snn")]
        print(f"dvc exp run -S alpha=0.9: {exp:.1f} s, stages run: {', '.join(stages)}")
        print(
            f"cold_s={cold:.1f} warm_s={warm:.1f} exp_alpha_s={exp:.1f} "
            f"training_stages_in_exp={len(training)}"
        )
        if args.out is not None:
            result = {
                "command": "python -m benchmarks.pipeline_timing --out " + str(args.out),
                "machine": describe(("torch", "dvc")),
                "cold_dvc_repro_s": round(cold, 1),
                "cold_budget_s": 300,
                "warm_dvc_repro_s": round(warm, 1),
                "exp_run_alpha_s": round(exp, 1),
                "exp_run_alpha_budget_s": 60,
                "training_stages_in_exp": len(training),
            }
            write_json_atomic(args.out, result)
    finally:
        if args.keep:
            print(f"sandbox kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
