"""`dvc repro sweep_released@<run>` in a sandbox: DVC resolves the `released` foreach (file dep, dataset,
params), runs check_params, data, import_released and the sweep, and a second repro is a no-op."""

from pathlib import Path

import torch
import yaml

from pipeline.core.config import parse_params
from pipeline.data.prepared import load_prepared
from pipeline.snn.networks import build_qcfs_ann
from pipeline.snn.released import LAYOUTS, from_ours
from pipeline.training.released_run import network_spec
from tests.sandbox import make_sandbox, run, sandbox_env

RUN = "r20-released"


def released_only(params: dict) -> None:
    params["device"] = "cpu"
    params["data"] = {"digits": params["data"]["digits"]}
    params["conversion"] = {}  # a direct run stays for the SEENN-II section; it is never reproduced here
    params["direct"] = {"d1": {"dataset": "digits", "model": "resnet8", "width": 0.25, "T": 2, "epochs": 1}}
    params["seenn2"].update(runs=["d1"], betas=[2.0])
    params["released"] = {
        RUN: {
            "layout": "qcfs_resnet20",
            "file": "checkpoints/resnet20_L[4].pth",
            "dataset": "digits",
            "model": "resnet20_qcfs",
            "width": 0.25,
            "T": 4,
            "shortcut": "conv",
        }
    }


def test_import_and_sweep_a_released_checkpoint_under_dvc(tmp_path):
    project = make_sandbox(tmp_path, released_only)
    env = {**sandbox_env(), "PYTHONPATH": str(project), "OMP_NUM_THREADS": "1"}
    run(["dvc", "repro", "data@digits"], project, extra_env=env)
    spec = parse_params(yaml.safe_load((project / "params.yaml").read_text())).released[RUN]
    info = load_prepared(project / "data/digits").info
    torch.manual_seed(0)
    ann = build_qcfs_ann(network_spec(spec, LAYOUTS["qcfs_resnet20"]), info)
    (project / "checkpoints").mkdir()
    torch.save(from_ours(LAYOUTS["qcfs_resnet20"], ann, "old"), project / spec.file)
    out = run(["dvc", "repro", f"sweep_released@{RUN}"], project, extra_env=env).stdout
    assert f"import_released@{RUN}" in out and f"sweep_released@{RUN}" in out and "train_snn" not in out
    folder: Path = project / "runs" / RUN
    for name in ("model.pt", "timestep_logits.npz", "run.json", "sweep.csv", "aet.json"):
        assert (folder / name).is_file(), name
    again = run(["dvc", "repro", f"sweep_released@{RUN}"], project, extra_env=env).stdout
    assert "Running stage" not in again and "up to date" in again
