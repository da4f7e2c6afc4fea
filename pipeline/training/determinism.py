"""Deterministic mode: the `deterministic` param (off by default) switches torch to bit-reproducible
kernels on the GPU, at a cost in speed.

What makes a run repeatable here:

* Seeds: every source of randomness (Python, NumPy, torch, the shuffling generator) is seeded from the
  `seed` param: `seed_everything` below at the start of a recipe, the shuffling generator in
  `pipeline.training.loop.fit`.
* CPU: the CPU kernels this project uses (convolutions, linear layers, batch norm, the surrogate
  spike functions, indexing in the augmentations) are deterministic for a fixed thread count, so two
  CPU runs of the same params give byte-identical weights, logits and metrics with or without this mode.
* GPU: by default cuDNN autotunes its convolution algorithms (`cudnn.benchmark`, fastest), and some
  CUDA kernels (atomic-add reductions in backward passes, cuBLAS's split workspaces) add floating-point
  numbers in a run-dependent order: results then differ in the last bits from run to run. Deterministic
  mode picks fixed, deterministic algorithms instead and makes torch raise on any op that has none.
"""

import os
import random

import numpy as np
import torch

# cuBLAS's documented setting for reproducible results (CUDA >= 10.2): fixed workspaces per handle.
CUBLAS_WORKSPACE = ":4096:8"


def apply_determinism(deterministic: bool, device: str) -> None:
    """Set torch's global kernel-selection flags for a run on `device` ("cpu" or "cuda[:n]").

    deterministic=True: `torch.use_deterministic_algorithms(True)` (an op without a deterministic
    implementation raises instead of silently varying), cuDNN deterministic and not autotuned, and
    `CUBLAS_WORKSPACE_CONFIG` set (unless the user already set it). cuBLAS reads that variable when it
    creates its first handle, so call this before the first matrix product on the GPU, i.e. at the start
    of a stage, before the model is built or moved. It costs speed: no autotuning, slower fixed kernels.

    deterministic=False on CUDA: cuDNN autotunes (`cudnn.benchmark`; faster for the fixed input shapes
    of training, but not bit-reproducible between runs) and the deterministic-algorithms check is off.

    deterministic=False on the CPU: nothing to do; the CPU kernels used here are deterministic anyway.
    """
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif device.startswith("cuda"):
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = True


def seed_worker(worker_id: int) -> None:
    """`worker_init_fn` for a torch DataLoader: seed each worker's NumPy and Python RNGs from its torch
    seed (which the DataLoader derives from the base seed and the worker id), so random augmentations
    in workers repeat from run to run. Pass `generator=torch.Generator().manual_seed(seed)` too."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (the run's only sources of randomness)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
