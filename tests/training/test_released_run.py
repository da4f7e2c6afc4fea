"""Tests for `pipeline/training/released_run.py`: a released checkpoint (generated here in the authors' key
layout from our own random weights) imported on digits-sized data gives a run folder in the convert /
train_snn format whose outputs equal converting (or running) the same weights directly, and the sweep
reads it like any run."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.core.config import parse_params
from pipeline.core.errors import StageError
from pipeline.data.prepared import DatasetInfo, PreparedData, load_prepared, save_prepared
from pipeline.exits.sweep import sweep_run
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann
from pipeline.snn.released import LAYOUTS, from_ours
from pipeline.training.recipes import convert_and_simulate, training_set_logits
from pipeline.training.released_run import import_released_run, network_spec

PARAMS = {
    "seed": 0,
    "device": "cpu",
    "alpha": 0.9,
    "released": {
        "qcfs-r20": {
            "layout": "qcfs_resnet20",
            "file": "checkpoints/resnet20.pth",
            "dataset": "digits",
            "model": "resnet20_qcfs",
            "width": 0.25,
            "T": 3,
            "shortcut": "conv",
        },
        "sew": {
            "layout": "sew_resnet34",
            "file": "checkpoints/sew.pth",
            "dataset": "digits",
            "model": "sew_resnet34",
            "width": 0.0625,
            "T": 2,
            "stem_pool": "max",
        },
    },
    "sweep": {"alphas": [0.5, 0.9]},
    "tables": {"alphas": [0.5], "timesteps": [1]},
}
INFO = DatasetInfo("digits", "digits (sklearn 8x8)", "static", 10, 1, 8)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 20)
    folder = tmp_path_factory.mktemp("released") / "data/digits"
    save_prepared(PreparedData(INFO, x, y, x[:12], y[:12]), folder)
    return folder


def lively(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random BN statistics and lambdas (so spikes flow), weights from the seed."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("running_var"):
                value.uniform_(0.5, 1.5)
            elif key.endswith("running_mean"):
                value.normal_(0, 0.1)
            elif key.endswith(".lam"):
                value.uniform_(0.3, 1.0)
    return model.eval()


def test_qcfs_checkpoint_imports_as_the_converted_snn(data_dir, tmp_path):
    """Old-style QCFS keys in a file -> the run folder holds exactly what converting the same ANN gives
    (IF, threshold lambda, u0 = V/2), run.json says conversion and names the layout, the sweep reads it."""
    p = parse_params(PARAMS)
    layout = LAYOUTS["qcfs_resnet20"]
    ann = lively(build_qcfs_ann(network_spec(p.released["qcfs-r20"], layout), INFO), 0)
    torch.save(from_ours(layout, ann, "old"), tmp_path / "resnet20.pth")
    out = tmp_path / "runs/qcfs-r20"
    accuracy = import_released_run(p, "qcfs-r20", tmp_path / "resnet20.pth", data_dir, out)

    spec = network_spec(p.released["qcfs-r20"], layout)
    data = load_prepared(data_dir)
    snn, logits = convert_and_simulate(ann, spec, data, "cpu")
    train_logits, train_labels = training_set_logits(snn, data, 3, "cpu", dropout=0.3, seed=0)
    with np.load(out / "timestep_logits.npz") as z:
        assert np.array_equal(z["logits"], logits) and np.array_equal(z["labels"], data.y_test)
        assert z["logits"].shape == (3, 12, 10) and np.abs(z["logits"]).sum() > 0
    with np.load(out / "train_logits.npz") as z:
        assert np.array_equal(z["logits"], train_logits) and np.array_equal(z["labels"], train_labels)
    assert accuracy.shape == (3,)
    run = json.loads((out / "run.json").read_text())
    assert (run["method"], run["model"], run["paper_model"]) == ("conversion", "resnet20_qcfs", "ResNet-20")
    assert run["released"]["layout"] == "qcfs_resnet20" and run["released"]["threshold_keys"] == "old"
    assert len(run["released"]["sha256"]) == 64 and "released weights" in run["model_note"]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["params"]["layout"] == "qcfs_resnet20" and provenance["params"]["width"] == 0.25
    assert provenance["params"]["released"]["sha256"] == run["released"]["sha256"]
    state = torch.load(out / "model.pt", weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in snn.state_dict().items())

    result = sweep_run(out, p.sweep, p.alpha)
    assert result.run == "qcfs-r20" and set(result.table.policy) >= {"fixed", "seenn1"}


def test_sew_checkpoint_imports_as_an_if_snn(data_dir, tmp_path):
    """A wrapped SEW file ({'model': ..., 'args': Namespace}) runs as our LIF with tau 1 (IF, hard reset)
    and is scored as a directly trained run."""
    import argparse

    p = parse_params(PARAMS)
    layout = LAYOUTS["sew_resnet34"]
    spec = network_spec(p.released["sew"], layout)
    assert spec.tau == 1.0
    snn = lively(build_direct_snn(spec, INFO), 1)
    ckpt = {"model": from_ours(layout, snn), "epoch": 319, "args": argparse.Namespace(T=4)}
    torch.save(ckpt, tmp_path / "sew.pth")
    out = tmp_path / "runs/sew"
    import_released_run(p, "sew", tmp_path / "sew.pth", data_dir, out)
    x = torch.from_numpy(load_prepared(data_dir).x_test)
    with torch.no_grad():
        expected = snn(x[None].expand(2, *x.shape)).numpy()
    with np.load(out / "timestep_logits.npz") as z:
        assert np.allclose(z["logits"], expected, atol=1e-6)
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "direct" and run["paper_model"] == "SEW-ResNet-34"


def test_wrong_architecture_in_params_fails_in_one_line(data_dir, tmp_path):
    """The layout's needs are checked against the run's params before anything is read or written."""
    p = parse_params(PARAMS)
    layout = LAYOUTS["qcfs_resnet20"]
    ann = build_qcfs_ann(network_spec(p.released["qcfs-r20"], layout), INFO)
    torch.save(from_ours(layout, ann), tmp_path / "resnet20.pth")
    wrong = replace(p, released={"qcfs-r20": replace(p.released["qcfs-r20"], shortcut="avgpool")})
    with pytest.raises(StageError) as err:
        import_released_run(wrong, "qcfs-r20", tmp_path / "resnet20.pth", data_dir, tmp_path / "out")
    message = str(err.value)
    assert message.startswith("released.qcfs-r20 (") and "needs shortcut = 'conv'" in message
    assert "\n" not in message and not (tmp_path / "out").exists()
