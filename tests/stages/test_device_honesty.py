"""What `device: auto` and the `auto` speed switches become is part of the training stages' cache key:
check_params writes it into build/params.yaml (`resolved.execution`) and every computing stage declares it,
so DVC never serves a model trained on a GPU (bf16, channels-last, compiled neurons) to a CPU run or the
other way round, and dvc.lock says which path made each model. The GPU is faked: only the question "does
torch see CUDA?" is answered differently."""

import shutil

import pytest
import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo
from typer.testing import CliRunner

import stages.check_params as check_params_stage
from pipeline.core.config import ParamsError, parse_params
from pipeline.core.execution import device_for, resolved_execution
from stages.cli import app
from tests.sandbox import ROOT

COMPUTING = (
    "pretrain_ann",
    "convert",
    "train_snn",
    "import_released",
    "finetune",
    "finetune_grid",
    "hardware",
)


def _resolve(project, monkeypatch, cuda: bool) -> dict:
    monkeypatch.setattr(check_params_stage, "cuda_visible", lambda device: cuda)
    result = CliRunner().invoke(
        app,
        [
            "check-params",
            "--params",
            str(project / "params.yaml"),
            "--out",
            str(project / "build/params.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    return yaml.safe_load((project / "build/params.yaml").read_text())["resolved"]["execution"]


def _params_hash(project, stage_name: str) -> dict:
    """The params part of a stage's DVC cache key, as DVC computes it from build/params.yaml."""
    with Repo(str(project)) as repo:
        stage = next(s for s in repo.index.stages if s.name == stage_name)
        (dep,) = [d for d in stage.deps if isinstance(d, ParamsDependency)]
        dep.save()
        return dict(dep.hash_info.value)


def test_cpu_and_gpu_runs_have_different_cache_keys(tmp_path, monkeypatch):
    Repo.init(str(tmp_path), no_scm=True)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "build").mkdir()
    cpu = _resolve(tmp_path, monkeypatch, cuda=False)
    assert cpu == {
        "device": "cpu",
        "speed": {
            "amp": False,
            "channels_last": False,
            "fused_neurons": False,
            "data_on_device": True,
            "compile": False,
            "fused_qcfs": False,
        },
    }
    on_cpu = _params_hash(tmp_path, "train_snn@r19")
    gpu = _resolve(tmp_path, monkeypatch, cuda=True)
    assert gpu["device"] == "cuda" and all(gpu["speed"].values())
    on_gpu = _params_hash(tmp_path, "train_snn@r19")
    assert on_cpu != on_gpu
    assert {k for k in on_cpu if on_cpu[k] != on_gpu[k]} == {"resolved.execution"}


def test_every_computing_stage_declares_the_resolved_execution():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        if name.removesuffix("_seed") not in COMPUTING:
            continue
        body = stage.get("do", stage)
        declared = body["params"][0]["build/params.yaml"]
        assert "resolved.execution" in declared, name


def test_forced_switches_and_a_missing_gpu():
    p = parse_params({"device": "cpu", "speed": {"channels_last": True}})
    assert resolved_execution(p, cuda_available=False)["speed"]["channels_last"] is True
    with pytest.raises(ParamsError, match="device = 'cuda' is not allowed here"):
        device_for("cuda", cuda_available=False)
    assert (
        device_for("auto", cuda_available=True) == "cuda" and device_for("cpu", cuda_available=True) == "cpu"
    )
