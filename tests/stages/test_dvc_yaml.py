"""dvc.yaml and params.yaml agree: every run the params define is produced, swept and reported, and each
stage declares the params it reads (so DVC re-runs exactly what a change affects)."""

import yaml

from tests.sandbox import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def outs_of(stage: str) -> list[str]:
    body = DVC[stage].get("do", DVC[stage])
    return [o if isinstance(o, str) else next(iter(o)) for o in body["outs"]]


def test_run_folders_follow_the_layout():
    """The folders dvc.yaml writes are the ones stages/layout.py tells the reports to read."""
    from pathlib import Path

    from pipeline.core.config import parse_params
    from pipeline.core.layout import report_inputs

    run_dirs, seenn2_dirs = report_inputs(parse_params(PARAMS), Path("runs"))
    assert {d.name for d in run_dirs} == {
        *(o.replace("${key}", r).split("/")[1] for r in PARAMS["direct"] for o in outs_of("train_snn")),
        *(o.replace("${key}", r).split("/")[1] for r in PARAMS["conversion"] for o in outs_of("convert")),
    }
    expected = {
        o.replace("${item}", r).split("/")[1] for r in PARAMS["seenn2"]["runs"] for o in outs_of("finetune")
    }
    expected |= {
        o.replace("${item.run}", r).replace("${item.beta}", str(b)).split("/")[1]
        for r in PARAMS["seenn2"]["runs"]
        for b in PARAMS["seenn2"]["betas"]
        for o in outs_of("finetune_grid")
    }
    assert {d.name for d in seenn2_dirs} == expected


def test_seed_replica_folders_follow_the_layout():
    """The replicas' stages write and sweep the folders `replica_dir` tells the tables to read."""
    from pathlib import Path

    from pipeline.core.layout import replica_dir

    expected = replica_dir(Path("runs"), "r", 3).name
    for stage in ("train_snn_seed", "convert_seed", "sweep_direct_seed", "sweep_conversion_seed"):
        folders = {o.replace("${item.run}", "r").replace("${item.seed}", "3").split("/")[1] for o in outs_of(stage)}
        assert folders == {expected}, stage
    assert {
        o.replace("${item.run}", "r").replace("${item.seed}", "3").split("/")[1] for o in outs_of("pretrain_ann_seed")
    } == {f"{expected}-ann"}


def test_reports_depend_on_the_runs_folder():
    """tables and figures depend on runs/ (DVC orders them after every stage writing into it)."""
    for stage in ("tables", "figures"):
        assert "runs" in DVC[stage]["deps"] and "--runs runs" in DVC[stage]["cmd"]


def declared_params(body: dict) -> list[str]:
    """The keys a stage declares from build/params.yaml (the resolved params check_params writes)."""
    keys = []
    for entry in body.get("params", []):
        assert isinstance(entry, dict) and list(entry) == ["build/params.yaml"], entry
        assert all(k.startswith("resolved.") for k in entry["build/params.yaml"]), entry
        keys += [k.removeprefix("resolved.") for k in entry["build/params.yaml"]]
    return keys


def test_alpha_and_beta_are_declared_only_where_used():
    """`alpha` only in sweeps and reports; `beta` only in the headline finetune and the tables (its
    headline SEENN-II numbers); training declares neither."""
    for name, stage in DVC.items():
        if name == "check_params":
            continue
        params = declared_params(stage.get("do", stage))
        if name.startswith("sweep_") or name in ("tables", "figures", "hardware"):
            assert "alpha" in params, name
        else:
            assert "alpha" not in params, name
        assert ("beta" in params) == (name in ("finetune", "tables")), name


def test_every_stage_reads_the_checked_params():
    """check_params reads all of params.yaml and writes build/params.yaml; every other stage declares its
    params from that file, so DVC runs the check first and bad params stop it before any stage."""
    check = DVC["check_params"]
    assert "params.yaml" in check["deps"] and "params" not in check
    assert "build/params.yaml" in [next(iter(o)) for o in check["outs"]]
    for name, stage in DVC.items():
        if name != "check_params":
            assert declared_params(stage.get("do", stage)), name
