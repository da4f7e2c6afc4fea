"""End to end: the real `dvc repro` in a temporary git repository, with every run shrunk to one epoch.

One module-scoped sandbox is reproduced once; the tests then check what it wrote, that a second repro
runs nothing, that a new alpha re-runs only the sweep and reports, and that a bad param stops the
pipeline before any output is touched.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.sandbox import make_sandbox, run, tiny
from pipeline.exits.policies import seenn1_exit

TRAINING_STAGES = ("data@", "pretrain_ann@", "convert@", "train_snn@")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = make_sandbox(tmp_path_factory.mktemp("dvc"), tiny)
    run(["dvc", "repro"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "first repro"], project)
    return project


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def test_repro_writes_tables_figures_and_metrics(project):
    """Tables 1-5 (md + csv), Figures 1 and 4 (png + pdf) and the metrics file exist and are filled."""
    for k in range(1, 6):
        assert (project / f"reports/tables/table{k}.md").read_text().startswith("### Table")
        assert not pd.read_csv(project / f"reports/tables/table{k}.csv").empty
    for name in ("figure1", "figure4"):
        assert (project / f"reports/figures/{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (project / f"reports/figures/{name}.pdf").read_bytes()[:4] == b"%PDF"
    metrics = json.loads((project / "reports/metrics.json").read_text())
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert set(metrics) == set(params["direct"]) | set(params["conversion"])
    for name, headline in metrics.items():  # compact: a handful of numbers per run
        keys = {"acc", "acc_low", "acc_high", "s1_acc", "s1_acc_low", "s1_acc_high", "s1_T", "aet"}
        assert keys <= set(headline) <= keys | {"s2_acc", "s2_acc_low", "s2_acc_high", "s2_T"}
        assert ("s2_acc" in headline) == (name in params["seenn2"]["runs"])
    table1 = (project / "reports/tables/table1.md").read_text()
    assert "digits" in table1 and "not run" in table1


def test_exit_numbers_recompute_from_npz(project):
    """Every SEENN-I row of every sweep.csv recomputes from that run's timestep_logits.npz."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    for name in [*params["direct"], *params["conversion"]]:
        folder = project / "runs" / name
        with np.load(folder / "timestep_logits.npz") as z:
            logits, labels = z["logits"], z["labels"]
        temperature = 8.0 if name in params["conversion"] else 1.0
        sweep = pd.read_csv(folder / "sweep.csv")
        for row in sweep[sweep.policy == "seenn1"].itertuples():
            d = seenn1_exit(logits, row.param, "sum", temperature)
            assert row.accuracy == pytest.approx(d.accuracy(labels), abs=1e-5)
            assert row.avg_timesteps == pytest.approx(d.avg_timesteps(), abs=1e-5)


def test_second_repro_runs_nothing(project):
    """With nothing changed, `dvc repro` runs no stage."""
    assert ran_stages(run(["dvc", "repro"], project).stdout) == []


@pytest.fixture(scope="module")
def alpha_experiments(project) -> dict:
    """One named experiment, `a60` (alpha 0.6: the sweeps and reports re-run), beside the committed
    baseline (HEAD). The workspace is left as committed."""
    before = json.loads((project / "reports/metrics.json").read_text())
    out = run(["dvc", "exp", "run", "-n", "a60", "-S", "alpha=0.6"], project).stdout
    after = json.loads((project / "reports/metrics.json").read_text())
    table1 = (project / "reports/tables/table1.md").read_text()
    run(["git", "checkout", "-q", "--", "."], project)
    run(["dvc", "checkout", "-q"], project)
    return {"out": out, "before": before, "after": after, "table1": table1}


def test_new_alpha_reruns_only_sweep_and_reports(alpha_experiments):
    """`dvc exp run -S alpha=...` re-runs the sweeps, tables and figures, no training, and changes the
    SEENN-I headline in the metrics."""
    stages = ran_stages(alpha_experiments["out"])
    assert stages and not [s for s in stages if s.startswith(TRAINING_STAGES)]
    assert "tables" in stages and "figures" in stages
    before, after = alpha_experiments["before"], alpha_experiments["after"]
    assert all(after[r]["s1_T"] <= before[r]["s1_T"] for r in before)  # a lower alpha never exits later
    assert "alpha = 0.6" in alpha_experiments["table1"]


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("alpha", 1.5, "alpha = 1.5"),
        ("alhpa", 0.9, "did you mean 'alpha'"),
        ("direct.vgg16.model", "resnet99", "resnet99"),
    ],
)
def test_bad_param_stops_before_any_output_changes(project, key, value, needle):
    """A bad value stops `dvc repro` with one line naming it; reports/ and runs/ stay byte-identical.
    (Every schema rule is checked without DVC in test_params.py; these cases go through DVC.)"""
    params_file = project / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    node = params
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    before = {**digest(project / "reports"), **digest(project / "runs"), **digest(project / "build")}
    try:
        proc = run(["dvc", "repro"], project, check=False)
    finally:
        params_file.write_text(original)
    assert proc.returncode != 0
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: params")]
    assert len(errors) == 1 and needle in errors[0], proc.stdout + proc.stderr
    assert {**digest(project / "reports"), **digest(project / "runs"), **digest(project / "build")} == before


# The README's view of experiments: alpha, beta and one run's headline, in a 120-column terminal.
EXP_SHOW = [
    "dvc",
    "exp",
    "show",
    "--no-pager",
    "--drop",
    ".*",
    "--keep",
    "Experiment|^alpha$|^beta$|^r19\\.(acc|s1_acc|s1_T|s2_acc|s2_T|aet)$",
]


def test_dvc_views_are_compact_and_plots_diff_draws_the_curves(project, alpha_experiments, tmp_path):
    """`dvc metrics show` lists a few dozen numbers; the README's `dvc exp show` line fits 120 columns
    without hiding a column; `dvc plots diff` of an alpha experiment against HEAD draws every run's curves."""
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)[""]["data"]
    assert list(shown) == ["reports/metrics.json"], list(shown)  # the one declared metrics file
    values = [v for headline in shown["reports/metrics.json"]["data"].values() for v in headline.values()]
    assert 10 <= len(values) <= 60 and all(isinstance(v, (int, float)) for v in values), shown
    env_columns = {"COLUMNS": "120"}
    shown = run(EXP_SHOW, project, extra_env=env_columns).stdout
    lines = [line.rstrip() for line in shown.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 120, shown
    assert "…" not in shown, shown  # no column collapsed for lack of room
    header = next(line for line in lines if "Experiment" in line)
    for column in ("alpha", "beta", "r19.acc", "r19.s1_acc", "r19.s1_T", "r19.s2_acc", "r19.s2_T", "r19.aet"):
        assert column in header, header
    out = tmp_path / "plots"
    drawn = json.loads(run(["dvc", "plots", "diff", "HEAD", "a60", "--json", "-o", str(out)], project).stdout)
    curves = [path for path in drawn["data"] if path.startswith("reports/curves/")]
    assert any("/r19/seenn1.csv" in path for path in curves) and any(
        "/r18-qcfs/fixed.csv" in path for path in curves
    )


def test_a_changed_default_makes_the_training_stages_stale(project):
    """A default in the params schema is part of what every stage runs: changing one that params.yaml
    leaves implicit (the training augmentation's random shift) makes `dvc status` list every training
    stage, through the code they depend on (and, once check_params has rewritten build/params.yaml,
    through the resolved value of the key)."""
    config = project / "pipeline/core/sections.py"
    original = config.read_text()
    rule = '"augmentation: random translation in pixels, zero fill (0 = none)", low=0, high=16, default=0'
    assert rule in original
    config.write_text(original.replace(rule, rule[:-1] + "1"))
    try:
        status = run(["dvc", "status"], project).stdout
    finally:
        config.write_text(original)
    params = yaml.safe_load((project / "params.yaml").read_text())
    for name in params["direct"]:
        assert f"train_snn@{name}:" in status, status
    for name in params["conversion"]:
        assert f"pretrain_ann@{name}:" in status, status
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
