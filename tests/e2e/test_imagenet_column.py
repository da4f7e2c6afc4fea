"""The paper profile's ImageNet column end to end: a generated image-folder tree stands in for ImageNet
(its own module, so that it runs beside the CIFAR-10 smoke run, not after it)."""

import pandas as pd
import yaml

from tests.sandbox import ROOT, make_sandbox, run


def test_imagenet_column_runs_through_dvc_on_a_synthetic_tree(tmp_path):
    """The paper profile's ImageNet runs (ResNet-34 QCFS conversion, TET ResNet-34 and SEW-ResNet-34,
    SEENN-II), shrunk, on a generated 3-class image-folder tree: `dvc repro` runs every stage, Table 3
    gets our cells, and the hardware stage measures the streamed data."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, per_class in (("train", 4), ("val", 2)):
        for cls in ("n01440764", "n01443537", "n01484850"):
            folder = tmp_path / "imagenet" / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"{i}.JPEG")
    paper = yaml.safe_load((ROOT / "profiles" / "paper.yaml").read_text())
    tiny = {"width": 0.0625, "T": 2, "epochs": 1, "batch_size": 6}

    def imagenet_only(params: dict) -> None:
        params["data"] = {
            "imagenet": {"root": str(tmp_path / "imagenet"), "workers": 0, "calibration_per_class": 2}
        }
        params["conversion"] = {
            "imagenet-resnet34-qcfs": {**paper["conversion"]["imagenet-resnet34-qcfs"], **tiny}
        }
        params["direct"] = {
            k: {**paper["direct"][k], **tiny} for k in ("imagenet-resnet34", "imagenet-sew_resnet34")
        }
        params["seenn2"].update(runs=["imagenet-resnet34"], policy_input_size=112, shift=0)
        params.setdefault("cpu", {})["threads"] = 1

    project = make_sandbox(tmp_path / "sandbox", imagenet_only, profile="paper-smoke")
    out = run(["dvc", "repro"], project).stdout
    for stage in (
        "data@imagenet",
        "convert@imagenet-resnet34-qcfs",
        "train_snn@imagenet-sew_resnet34",
        "finetune@imagenet-resnet34",
        "sweep_direct@imagenet-resnet34",
        "tables",
        "hardware",
    ):
        assert f"Running stage '{stage}'" in out, stage
    table3 = pd.read_csv(project / "reports/tables/table3.csv")
    assert table3[table3.ours_accuracy.notna()].shape[0] >= 3
