"""The same numbers on every x86-64 CPU: the instruction set and thread count of CPU runs, pinned before
torch or numpy load.

Vectorised kernels round differently on different instruction sets, and a reduction split over more
threads adds in another order, so a CPU run's weights depend on the machine unless both are pinned
(measured: an AVX-512 and an AVX2 run of the same training differ after one epoch; so do 1 and 2
threads; README "Reproducibility"). With `cpu.isa: avx2` every library is held to AVX2, which every
x86-64 CPU of the last decade has: PyTorch's own kernels (`ATEN_CPU_CAPABILITY`), oneDNN's convolutions
(`ONEDNN_MAX_CPU_ISA`), MKL's matrix products (`MKL_CBWR`, its conditional numerical reproducibility
mode) and numpy's dispatched loops such as exp and log (`NPY_DISABLE_CPU_FEATURES`, which the digits-dvs
event simulation and the exit rules use). `cpu.threads` fixes the intra-op threads of torch (OpenMP) and
of numpy's BLAS. `cpu.isa: native` leaves the libraries to pick the fastest kernels.

These are environment variables the libraries read once, when they load, so the `seenn` entry point sets
them first (`pin_cpu`), from the params file, before any stage imports torch.
"""

import os
from pathlib import Path

import yaml

# numpy 2.x names its AVX-512 dispatch groups X86_V4, AVX512_ICL, AVX512_SPR; numpy 1.x used the others.
_NUMPY_AVX512 = (
    "X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL"
)
ISA_ENV = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_CBWR": "AVX2",
        "NPY_DISABLE_CPU_FEATURES": _NUMPY_AVX512,
    },
    "native": {},
}
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
DEFAULT_ISA, DEFAULT_THREADS = "avx2", 2  # must agree with pipeline.core.config.CpuParams


def cpu_env(isa: str = DEFAULT_ISA, threads: int = DEFAULT_THREADS) -> dict[str, str]:
    """The environment that pins `isa` ("avx2" or "native") and `threads`."""
    if isa not in ISA_ENV:
        raise ValueError(f"cpu.isa = {isa!r} is not allowed: one of {', '.join(ISA_ENV)}")
    return {**ISA_ENV[isa], **{name: str(threads) for name in THREAD_ENV}}


def cpu_settings(params_file: Path) -> tuple[str, int]:
    """`cpu.isa` and `cpu.threads` of a params file, with the defaults where it says nothing (the full
    validation of the file happens in the stage; an unreadable file gives the defaults here)."""
    try:
        raw = yaml.safe_load(params_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    section = raw.get("cpu") if isinstance(raw, dict) else None
    section = section if isinstance(section, dict) else {}
    isa, threads = section.get("isa", DEFAULT_ISA), section.get("threads", DEFAULT_THREADS)
    if isa not in ISA_ENV or not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        return DEFAULT_ISA, DEFAULT_THREADS  # the stage's params check names the bad value
    return isa, threads


def pin_cpu(params_file: Path) -> dict[str, str]:
    """Set the pinning environment of `params_file`'s `cpu` section in this process (and so in the
    processes it starts); return what was set. Call before torch or numpy is imported."""
    env = cpu_env(*cpu_settings(params_file))
    os.environ.update(env)
    return env
