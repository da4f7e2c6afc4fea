"""The same numbers on every x86-64 CPU (`cpu.isa: avx2`, pipeline/core/cpu.py), checked on one machine:
`seenn train-snn` runs in fresh processes, as `dvc repro` starts them, under instruction-set settings.

- With the pins (`cpu.isa: avx2`), a run on this machine and a run with the environment of an AVX2-only
  machine (every library held to AVX2, MKL's dispatch too) give byte-identical weights.
- Without them (`cpu.isa: native`), the same two give different weights when this machine has AVX-512:
  the pins are what makes the results portable.
- The thread count changes the result too, which is why `cpu.threads` is a param.
"""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.sandbox import ROOT, sandbox_env

# What an AVX2-only machine's libraries would pick by themselves.
AVX2_MACHINE = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512_SKX",
}
PIN_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "NPY_DISABLE_CPU_FEATURES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def _has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _params(isa: str, threads: int = 2) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["cpu"] = {"isa": isa, "threads": threads}
    params["conversion"] = {}
    params["seenn2"]["runs"] = ["r19"]
    run = params["direct"]["r19"]
    params["direct"] = {"r19": {**run, "epochs": 1}}
    return params


def _train(tmp: Path, name: str, params: dict, env: dict[str, str]) -> str:
    """`seenn data digits` then `seenn train-snn r19` in a fresh process; the sha256 of model.pt."""
    folder = tmp / name
    folder.mkdir()
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    base = {k: v for k, v in sandbox_env().items() if k not in PIN_VARIABLES}
    full = {**base, **env}
    seenn = [sys.executable, "-c", "from stages.cli import main; main()"]
    for args in (
        ["data", "digits", "--out", "data/digits"],
        ["train-snn", "r19", "--data", "data/digits", "--out", "runs/r19"],
    ):
        proc = subprocess.run(
            [*seenn, *args, "--params", "params.yaml"],
            cwd=folder,
            env={**full, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
    return hashlib.sha256((folder / "runs/r19/model.pt").read_bytes()).hexdigest()


def test_pinned_runs_match_an_avx2_machine_and_native_ones_do_not(tmp_path):
    pinned_here = _train(tmp_path, "pinned_here", _params("avx2"), {})
    pinned_avx2_machine = _train(tmp_path, "pinned_avx2", _params("avx2"), AVX2_MACHINE)
    assert pinned_here == pinned_avx2_machine
    if not _has_avx512():
        pytest.skip("this CPU has no AVX-512: native and AVX2 kernels are the same here")
    native_here = _train(tmp_path, "native_here", _params("native"), {})
    native_avx2_machine = _train(tmp_path, "native_avx2", _params("native"), AVX2_MACHINE)
    assert native_here != native_avx2_machine


def test_the_thread_count_changes_the_weights(tmp_path):
    assert _train(tmp_path, "two", _params("avx2", 2), {}) != _train(tmp_path, "one", _params("avx2", 1), {})
