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


def _seenn(folder: Path, args: list[str], env: dict[str, str]) -> None:
    """`seenn <args> --params params.yaml` in a fresh process in `folder`, with `env` over a pin-free
    environment."""
    base = {k: v for k, v in sandbox_env().items() if k not in PIN_VARIABLES}
    proc = subprocess.run(
        [sys.executable, "-c", "from stages.cli import main; main()", *args, "--params", "params.yaml"],
        cwd=folder,
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def train(tmp_path_factory):
    """`train(params, env)`: `seenn train-snn r19` in a fresh process on one shared prepared digits
    folder; the sha256 of model.pt (each distinct setting trained once per module)."""
    root = tmp_path_factory.mktemp("pins")
    (root / "params.yaml").write_text(yaml.safe_dump(_params("avx2"), sort_keys=False))
    _seenn(root, ["data", "digits", "--out", "data/digits"], {})
    done: dict[str, str] = {}

    def run(params: dict, env: dict[str, str]) -> str:
        key = yaml.safe_dump([params["cpu"], env])
        if key not in done:
            folder = root / f"run{len(done)}"
            folder.mkdir()
            (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            _seenn(folder, ["train-snn", "r19", "--data", str(root / "data/digits"), "--out", "runs/r19"], env)
            done[key] = hashlib.sha256((folder / "runs/r19/model.pt").read_bytes()).hexdigest()
        return done[key]

    return run


def test_pinned_runs_match_an_avx2_machine_and_native_ones_do_not(train):
    pinned_here = train(_params("avx2"), {})
    pinned_avx2_machine = train(_params("avx2"), AVX2_MACHINE)
    assert pinned_here == pinned_avx2_machine
    if not _has_avx512():
        pytest.skip("this CPU has no AVX-512: native and AVX2 kernels are the same here")
    native_here = train(_params("native"), {})
    native_avx2_machine = train(_params("native"), AVX2_MACHINE)
    assert native_here != native_avx2_machine


def test_the_thread_count_changes_the_weights(train):
    assert train(_params("avx2", 2), {}) != train(_params("avx2", 1), {})
