"""Two CPU processes under torchrun (gloo) train to the single-process result with the same global
batch, through the real `train-snn` stage started as dvc.yaml starts it (`seenn train-snn ...`), re-launched
under torchrun by the entry point because SEENN_LAUNCHER asks; only the main process writes."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

BIN = Path(sys.executable).parent
PARAMS = {
    "seed": 0,
    "device": "cpu",
    "checkpoint_every": 1,
    "cpu": {"threads": 1},  # beside another test on 2 cores (each torchrun process too)
    "data": {"digits": {"test_fraction": 0.3}},
    "direct": {
        "d1": {
            "dataset": "digits",
            "model": "resnet20",
            "width": 0.25,
            "T": 2,
            # One epoch at a low rate: a membrane within rounding of the threshold spikes in one run and
            # not the other, and every later step amplifies that (measured: 2 epochs at lr 0.1 and one
            # thread end 5 % apart in a weight); 26 steps at 0.02 stay within 3e-6 of each other.
            "epochs": 1,
            "lr": 0.02,
            "batch_size": 50,
            "shift": 1,
            "flip": True,
        },
    },
}


def run(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SEENN_LAUNCHER"}
    env = {**env, "OMP_NUM_THREADS": "1", **(extra_env or {})}
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(io.BytesIO(path.read_bytes()), weights_only=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("ddp")
    (work / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    run([str(BIN / "seenn"), "data", "digits", "--out", "data/digits"], work)
    run([str(BIN / "seenn"), "train-snn", "d1", "--data", "data/digits", "--out", "runs/single"], work)
    launcher = {"SEENN_LAUNCHER": f"{BIN / 'torchrun'} --standalone --nproc_per_node 2"}
    run([str(BIN / "seenn"), "train-snn", "d1", "--data", "data/digits", "--out", "runs/ddp"], work, launcher)
    return work


@pytest.mark.slow
def test_two_processes_equal_one_process(runs):
    """Same global batch of 50 (25 per process, last batch 7 + 7 of 1,257 % 50): weights, BatchNorm
    statistics and test outputs agree within float tolerance."""
    single, ddp = weights(runs / "runs/single/model.pt"), weights(runs / "runs/ddp/model.pt")
    assert single.keys() == ddp.keys()
    assert any(not torch.equal(single[k], ddp[k]) for k in single)  # two processes did run: other rounding
    for key in single:
        assert torch.allclose(single[key].float(), ddp[key].float(), atol=2e-4, rtol=1e-3), key
    with (
        np.load(runs / "runs/single/timestep_logits.npz") as a,
        np.load(runs / "runs/ddp/timestep_logits.npz") as b,
    ):
        assert np.allclose(a["logits"], b["logits"], atol=2e-3)
        assert (a["logits"].sum(0).argmax(-1) == b["logits"].sum(0).argmax(-1)).mean() > 0.99


def test_only_the_main_process_writes(runs):
    """The run folder has the single-process layout: one metrics log, no per-rank files, no checkpoint."""
    names = lambda folder: sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))  # noqa: E731
    assert names(runs / "runs/ddp") == names(runs / "runs/single")
    metrics = [yaml.safe_load((runs / f"runs/{r}/live/metrics.json").read_text()) for r in ("single", "ddp")]
    assert metrics[0].keys() == metrics[1].keys()
    assert not list((runs / "checkpoints").glob("*")) if (runs / "checkpoints").exists() else True
