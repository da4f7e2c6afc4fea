"""The paper-scale profile: one documented command plans every stage for all four datasets, and a smoke
run on a CIFAR-10 JPEG archive (SEENN_CIFAR10_ARCHIVE; skipped, naming the variable, without one)
executes every CIFAR-10 stage and fills the CIFAR-10 cells of the tables."""

import tarfile
from pathlib import Path

import pandas as pd
import pytest

from tests.sandbox import cifar10_archive, cifar10_archive_skip_reason, make_sandbox, run

CIFAR_JPEG = cifar10_archive()


def test_paper_profile_plans_all_four_datasets(tmp_path):
    """`seenn use-profile paper` then `dvc repro --dry --force` lists data, training, sweep and finetune
    stages
    for CIFAR-10, CIFAR-100, CIFAR10-DVS and ImageNet."""
    project = make_sandbox(tmp_path)
    assert run(["seenn", "use-profile", "paper"], project).returncode == 0
    # --force: DVC 3 stops a plain --dry at the first stage whose inputs do not exist yet
    out = run(["dvc", "repro", "--dry", "--force"], project).stdout
    for stage in (
        "data@cifar10",
        "data@cifar100",
        "data@cifar10_dvs",
        "data@imagenet",
        "pretrain_ann@cifar10-resnet18",
        "convert@cifar100-resnet18",
        "train_snn@cifar10-resnet19",
        "train_snn@cifar10_dvs-vggsnn",
        "train_snn@imagenet-sew_resnet34",
        "finetune@cifar100-vgg16",
        "sweep_direct@imagenet-resnet34",
        "tables",
        "figures",
    ):
        assert f"'{stage}'" in out, stage


def test_missing_dataset_fails_at_once_with_where_to_put_it(tmp_path):
    """With no CIFAR-10 in place and no download, the data stage stops with one line naming the folder."""
    project = make_sandbox(tmp_path, profile="paper-smoke")
    proc = run(["seenn", "data", "cifar10", "--out", "data/cifar10"], project, check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "datasets/cifar10" in lines[0]


def extract_subset(archive: Path, dest: Path, per_class: int = 25) -> Path:
    """Unpack the first `per_class` images of each class and split (the smoke run uses 20 / 10)."""
    kept: dict[tuple[str, str], int] = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            key = (parts[-3], parts[-2])  # (split, class)
            if kept.get(key, 0) < per_class:
                kept[key] = kept.get(key, 0) + 1
                tar.extract(member, dest, filter="data")
    tops = {p for p in dest.iterdir() if p.is_dir()}
    root = next(iter(tops)) if len(tops) == 1 and not (dest / "train").is_dir() else dest
    return root


@pytest.mark.skipif(CIFAR_JPEG is None, reason=cifar10_archive_skip_reason())
def test_cifar10_cpu_profile_shrunk_runs_every_stage_on_the_jpeg_copy(tmp_path):
    """`profiles/cifar10-cpu.yaml` as committed except its size (20 training and 10 test images per class,
    one epoch per training, two where a timestep curriculum needs one epoch at each T, 20 inputs timed): `dvc repro` on the JPEG copy runs every stage and fills the CIFAR-10 cells of
    Tables 1, 2 and 5, the exit-policy comparison and the hardware table."""
    root = extract_subset(CIFAR_JPEG, tmp_path / "cifar")

    def shrink(params: dict) -> None:
        params["data"]["cifar10"].update(
            root=str(root), download=False, subset_per_class=20, test_subset_per_class=10
        )
        for section in ("conversion", "direct"):
            for spec in params[section].values():
                spec["epochs"] = 1
                if spec.get("curriculum_epochs"):  # keep the curriculum: one epoch at its T, one at T
                    spec.update(epochs=2, curriculum_epochs=1)
        params["seenn2"]["epochs"] = 1
        params["hardware"]["test_inputs"] = 20
        params.setdefault("cpu", {})["threads"] = 1

    project = make_sandbox(tmp_path / "sandbox", shrink, profile="cifar10-cpu")
    out = run(["dvc", "repro"], project).stdout
    for stage in (
        "data@cifar10",
        "pretrain_ann@cifar10-resnet18",
        "convert@cifar10-resnet18",
        "pretrain_ann@cifar10-fastvgg",
        "convert@cifar10-fastvgg",
        "train_snn@cifar10-resnet19",
        "train_snn@cifar10-fastvgg-tet",
        "finetune@cifar10-fastvgg-tet",
        "sweep_direct@cifar10-resnet19",
        "sweep_direct@cifar10-fastvgg-tet",
        "sweep_conversion@cifar10-resnet18",
        "sweep_conversion@cifar10-fastvgg",
        "tables",
        "figures",
        "hardware",
    ):
        assert f"Running stage '{stage}'" in out, stage
    table1 = pd.read_csv(project / "reports/tables/table1.csv")
    assert "ResNet-19" in set(table1[(table1.dataset == "cifar10") & table1.ours_accuracy.notna()].model)
    table2 = pd.read_csv(project / "reports/tables/table2.csv")
    assert table2[(table2.dataset == "cifar10") & table2.ours_accuracy.notna()].shape[0] >= 3
    policies = pd.read_csv(project / "reports/tables/exit_policies.csv")
    assert {"cifar10-resnet19", "cifar10-resnet18", "cifar10-fastvgg", "cifar10-fastvgg-tet"} <= set(
        policies.run
    )
    claim = pd.read_csv(project / "reports/tables/claim.csv")
    assert set(claim.budget_timesteps) == {2.0, 4.0}  # T/2 of the direct (T = 4) and converted (T = 8) runs
    hardware = pd.read_csv(project / "reports/hardware/hardware.csv")
    assert "seenn2" in set(hardware.policy)
