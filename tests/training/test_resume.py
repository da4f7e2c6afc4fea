"""Nothing lost: a training stage killed with SIGKILL mid-run resumes from its last checkpoint and ends
with the same bytes as an uninterrupted run; a NaN loss stops training naming the epoch and step."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from pipeline.training.checkpoint import Checkpointing
from pipeline.data.feed import InMemoryFeed
from pipeline.training.context import TrainingContext
from pipeline.training.loop import TrainConfig, fit, supervised_task

PARAMS = {
    "seed": 0,
    "device": "cpu",
    "checkpoint_every": 1,
    "cpu": {"threads": 1},  # beside another test on 2 cores
    "data": {"digits": {"test_fraction": 0.3}},
    "direct": {"d1": {"dataset": "digits", "model": "resnet20", "width": 0.5, "T": 2, "epochs": 6}},
}


def seenn(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "seenn"
    return subprocess.Popen(
        [str(exe), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def train(cwd: Path, out: str) -> subprocess.Popen:
    return seenn(["train-snn", "d1", "--data", "data/digits", "--out", out], cwd)


@pytest.fixture()
def workdir(tmp_path) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    proc = seenn(["data", "digits", "--out", "data/digits"], tmp_path)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    return tmp_path


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_results(workdir):
    """Kill train-snn after its second checkpoint, run it again: same weights and logits as a clean run."""
    reference = train(workdir, "runs/clean")
    assert reference.wait(timeout=600) == 0, reference.stderr.read()

    victim = train(workdir, "runs/killed")
    checkpoint = workdir / "checkpoints" / "runs__killed.pt"
    deadline = time.time() + 300
    while time.time() < deadline:
        if checkpoint.is_file() and torch.load(checkpoint, weights_only=False)["next_epoch"] >= 2:
            break
        if victim.poll() is not None:
            pytest.fail("training finished before it could be killed")
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (workdir / "runs/killed/model.pt").exists()

    resumed = train(workdir, "runs/killed")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert "resuming from" in resumed.stderr.read()
    for name in ("model.pt", "timestep_logits.npz", "live/metrics.json"):
        assert (workdir / "runs/killed" / name).read_bytes() == (
            workdir / "runs/clean" / name
        ).read_bytes(), name
    assert not checkpoint.exists(), "a finished stage removes its checkpoint"


def test_checkpoint_of_other_params_is_ignored(workdir):
    """A checkpoint written with other params is not resumed."""
    first = train(workdir, "runs/a")
    checkpoint = workdir / "checkpoints" / "runs__a.pt"
    while not checkpoint.is_file():
        assert first.poll() is None, "finished before a checkpoint appeared"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["direct"]["d1"]["epochs"] = 1  # other params (the checkpoint was written for 6 epochs)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    second = train(workdir, "runs/a")
    assert second.wait(timeout=600) == 0
    assert "starting afresh" in second.stderr.read()


def test_nan_loss_stops_with_epoch_and_step(tmp_path):
    """fit() raises on the first non-finite loss, naming epoch and step, and saves no checkpoint then."""
    model = torch.nn.Sequential(torch.nn.Flatten(2), torch.nn.Linear(4, 3))
    x, y = torch.randn(20, 1, 2, 2), torch.randint(0, 3, (20,))
    calls = []

    def loss_fn(out, labels):
        calls.append(1)
        loss = torch.nn.functional.cross_entropy(out[0], labels)
        return loss * float("nan") if len(calls) == 8 else loss  # 4 steps an epoch: epoch 2, step 4

    saved = []
    with pytest.raises(FloatingPointError, match="epoch 2, step 4"):
        feed = InMemoryFeed(x, y, batch_size=5)
        task = supervised_task(model, loss_fn, lambda b: b[None], feed)
        fit(
            task,
            feed,
            TrainConfig(epochs=3, batch_size=5),
            TrainingContext(checkpointing=Checkpointing(every=1, save=saved.append)),
        )
    assert [s["next_epoch"] for s in saved] == [1]
