"""Deterministic mode (`pipeline/training/determinism.py`): the global torch flags it sets and clears, and
that
training under it on the CPU is accepted by torch's deterministic-algorithms check and repeats bit for bit."""

import os
import random

import numpy as np
import pytest
import torch

from pipeline.core.config import ConversionRun, DirectRun
from pipeline.data.prepared import DatasetInfo, PreparedData
from pipeline.training.determinism import CUBLAS_WORKSPACE, apply_determinism, seed_worker
from pipeline.training.recipes import pretrain_ann, train_direct


@pytest.fixture(autouse=True)
def restore_torch_flags(monkeypatch):
    """Every test here changes process-wide state: put the flags and the environment back afterwards."""
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)  # monkeypatch restores the old value
    yield
    algorithms, warn_only, cudnn_deterministic, benchmark = saved
    torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)
    torch.backends.cudnn.deterministic = cudnn_deterministic
    torch.backends.cudnn.benchmark = benchmark


def test_deterministic_mode_sets_every_flag():
    apply_determinism(True, "cuda")
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE


def test_deterministic_mode_keeps_a_users_cublas_setting(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    apply_determinism(True, "cpu")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_default_mode_on_cuda_autotunes_and_clears_the_check():
    apply_determinism(True, "cuda")
    apply_determinism(False, "cuda:0")
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.deterministic and torch.backends.cudnn.benchmark


def test_default_mode_on_cpu_changes_nothing():
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    apply_determinism(False, "cpu")
    after = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    assert after == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_seed_worker_seeds_numpy_and_random_from_torch():
    torch.manual_seed(1234)
    seed_worker(0)
    first = (np.random.rand(), random.random())
    torch.manual_seed(1234)
    seed_worker(3)
    assert (np.random.rand(), random.random()) == first
    torch.manual_seed(99)
    seed_worker(0)
    assert (np.random.rand(), random.random()) != first


INFO = DatasetInfo(
    name="digits", label="digits (test)", kind="static", num_classes=4, in_channels=1, input_size=8
)


def tiny_data() -> PreparedData:
    rng = np.random.default_rng(0)
    x = rng.random((72, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, INFO.num_classes, size=72).astype(np.int64)
    return PreparedData(INFO, x[:48], y[:48], x[48:], y[48:])


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_snn_weights(data: PreparedData) -> dict[str, torch.Tensor]:
    """Two epochs of the direct-training recipe (LIF, surrogate, TET, shift and flip augmentation)."""
    run = DirectRun(
        dataset="digits", model="resnet8", width=0.25, T=2, epochs=2, batch_size=16, shift=1, flip=True
    )
    model, _, _ = train_direct(run, data, 0)
    return weights(model)


def train_ann_weights(data: PreparedData) -> dict[str, torch.Tensor]:
    """Two epochs of the QCFS ANN pre-training recipe (the conversion path)."""
    run = ConversionRun(
        dataset="digits", model="resnet8", width=0.25, T=2, epochs=2, batch_size=16, qcfs_lambda=2.0
    )
    model, _ = pretrain_ann(run, data, 0)
    return weights(model)


@pytest.mark.parametrize("train", [train_snn_weights, train_ann_weights], ids=["direct_snn", "qcfs_ann"])
def test_deterministic_mode_on_cpu_trains_identically_twice(train):
    """With the deterministic check on, no CPU op of training raises, and two runs end bit-identical."""
    apply_determinism(True, "cpu")
    data = tiny_data()
    first, second = train(data), train(data)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert any(not torch.equal(v, torch.zeros_like(v)) for v in first.values())
