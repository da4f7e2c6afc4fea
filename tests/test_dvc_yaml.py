"""dvc.yaml and params.yaml agree: every run the params define is produced, swept and reported, and each
stage declares the params it reads (so DVC re-runs exactly what a change affects)."""

import yaml

from benchmarks.project_sandbox import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def seenn2_folders() -> list[str]:
    s2 = PARAMS["seenn2"]
    return [f"runs/{r}-seenn2{suffix}" for r in s2["runs"] for suffix in ["", *[f"-b{b}" for b in s2["betas"]]]]


def test_reports_read_every_run():
    """tables and figures receive and depend on every conversion, direct and SEENN-II run folder."""
    runs = [*PARAMS["conversion"], *PARAMS["direct"]]
    for stage in ("tables", "figures"):
        cmd, deps = DVC[stage]["cmd"], DVC[stage]["deps"]
        for run in runs:
            assert f"runs/{run} " in cmd + " " and f"runs/{run}/sweep.csv" in deps, (stage, run)
        for folder in seenn2_folders():
            assert f"--seenn2 {folder}" in cmd and f"{folder}/seenn2.csv" in deps, (stage, folder)


def test_alpha_and_beta_are_declared_only_where_used():
    """`alpha` only in sweeps and reports; `beta` only in the headline finetune; training declares neither."""
    for name, stage in DVC.items():
        body = stage.get("do", stage)
        params = [p for p in body.get("params", []) if isinstance(p, str)]
        if name in ("sweep_direct", "sweep_conversion", "tables", "figures"):
            assert "alpha" in params, name
        else:
            assert "alpha" not in params, name
        assert ("beta" in params) == (name == "finetune"), name


def test_every_stage_waits_for_the_params_check():
    """Each stage after check_params depends on its output, so bad params stop DVC before any stage."""
    for name, stage in DVC.items():
        if name != "check_params":
            assert "build/params-checked.txt" in stage.get("do", stage)["deps"], name
