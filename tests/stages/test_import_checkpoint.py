"""`seenn import-checkpoint` through Typer's CliRunner on a tiny case: a QCFS VGG-16 checkpoint in the
authors' layout (generated from our random weights) becomes a run folder that `seenn sweep` reads; bad
invocations fail with one line; dvc.yaml's import and sweep stages write the convert stage's files."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from pipeline.core.config import parse_params
from pipeline.data.prepared import DatasetInfo, PreparedData, save_prepared
from pipeline.snn.networks import build_qcfs_ann
from pipeline.snn.released import LAYOUTS, from_ours
from pipeline.training.released_run import network_spec
from stages.cli import app
from tests.sandbox import ROOT

RELEASED = {
    "vgg16-qcfs": {
        "layout": "qcfs_vgg16",
        "file": "checkpoints/vgg16_L[4].pth",
        "dataset": "digits",
        "model": "vgg16",
        "width": 0.0625,
        "T": 4,
        "vgg_head": "fc3",
    }
}
TINY = {
    "seed": 0,
    "device": "cpu",
    "alpha": 0.9,
    "released": RELEASED,
    "sweep": {"alphas": [0.5, 0.9]},
    "tables": {"alphas": [0.5], "timesteps": [1]},
}
INFO = DatasetInfo("digits", "digits (sklearn 8x8)", "static", 10, 1, 8)
runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """params.yaml, a prepared digits-shaped dataset and the checkpoint in QCFS's new key layout."""
    root = tmp_path_factory.mktemp("import")
    (root / "params.yaml").write_text(yaml.safe_dump(TINY))
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 16)
    save_prepared(PreparedData(INFO, x, y, x, y), root / "data/digits")
    p = parse_params(TINY)
    torch.manual_seed(0)
    ann = build_qcfs_ann(network_spec(p.released["vgg16-qcfs"], LAYOUTS["qcfs_vgg16"]), INFO)
    (root / "checkpoints").mkdir()
    torch.save(from_ours(LAYOUTS["qcfs_vgg16"], ann, "new"), root / "checkpoints/vgg16_L[4].pth")
    return root


def invoke(project: Path, *args: str):
    return runner.invoke(app, [*args, "--params", str(project / "params.yaml")])


def import_args(project: Path, run: str = "vgg16-qcfs", file: str = RELEASED["vgg16-qcfs"]["file"]) -> list:
    data, out = project / "data/digits", project / "runs" / run
    return ["import-checkpoint", run, "--file", str(project / file), "--data", str(data), "--out", str(out)]


def test_import_then_sweep(project):
    """The run folder has the convert stage's six files; the sweep stage reads it like any run."""
    result = invoke(project, *import_args(project))
    assert result.exit_code == 0, result.output
    assert "import-checkpoint: vgg16-qcfs (qcfs_vgg16): accuracy by T 1:" in result.output
    out = project / "runs/vgg16-qcfs"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "model.pt",
            "timestep_logits.npz",
            "val_logits.npz",
            "train_logits.npz",
            "run.json",
            "provenance.json",
        ]
    )
    with np.load(out / "timestep_logits.npz") as z:
        assert z["logits"].shape == (4, 16, 10)
    assert json.loads((out / "run.json").read_text())["method"] == "conversion"
    result = invoke(project, "sweep", str(out))
    assert result.exit_code == 0, result.output
    assert {"sweep.csv", "exit_shares.csv", "aet.json"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize(
    "edit,args,needle",
    [
        (None, {"run": "nope"}, "run 'nope' is not in `released`"),
        (None, {"file": "checkpoints/absent.pth"}, "released checkpoint not found"),
        ({"vgg_head": "gap"}, {}, "needs vgg_head = 'fc3'"),
        ({"width": 0.125}, {}, "layout qcfs_vgg16: layer1.0.weight has shape [4, 1, 3, 3]"),
        ({"model": "resnet18", "vgg_head": "gap"}, {}, "needs model = 'vgg16'"),
        ({"shortcut": "conv"}, {}, "released.vgg16-qcfs.shortcut = 'conv' is not allowed"),
        ({"layout": "qcfs_vgg19"}, {}, "released.vgg16-qcfs.layout = 'qcfs_vgg19' is not allowed"),
    ],
)
def test_bad_invocations_fail_with_one_line(project, tmp_path, edit, args, needle):
    params = json.loads(json.dumps(TINY))
    if edit:
        params["released"]["vgg16-qcfs"].update(edit)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    command = import_args(project, **args)
    command[command.index("--out") + 1] = str(tmp_path / "out")
    result = runner.invoke(app, [*command, "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_dvc_stages_write_the_convert_stage_files():
    """import_released (foreach over `released`) declares the convert stage's outs and params, plus its
    file; sweep_released is the other sweeps' stage."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    imported, convert = stages["import_released"], stages["convert"]
    assert imported["foreach"] == "${released}"
    body = imported["do"]
    assert body["cmd"].split()[:3] == ["seenn", "import-checkpoint", "${key}"]
    assert "--file ${item.file}" in body["cmd"] and "--out runs/${key}" in body["cmd"]
    assert body["outs"] == convert["do"]["outs"]
    assert {"${item.file}", "data/${item.dataset}"} <= set(body["deps"])
    declared = body["params"][0]["build/params.yaml"]
    assert "resolved.released.${key}" in declared
    shared = set(convert["do"]["params"][0]["build/params.yaml"])
    assert set(declared) - {"resolved.released.${key}"} <= shared
    sweep = stages["sweep_released"]
    assert sweep["foreach"] == "${released}" and sweep["do"] == stages["sweep_direct"]["do"]


def test_help_lists_import_checkpoint():
    assert "import-checkpoint" in runner.invoke(app, ["--help"]).output
