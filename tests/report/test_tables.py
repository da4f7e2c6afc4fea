"""Tests for `pipeline/report/{results,paper,tables}.py` on tiny fake run folders."""

import re
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.report.paper import PAPER_AET, PAPER_ROWS, rows_for_table
from pipeline.report.results import load_run, load_runs
from pipeline.report.table_markdown import table_notes, to_markdown
from pipeline.report.tables import TABLE_TITLES, table1, table2, table3, table4, table5

ALPHA_GRID = (0.5, 0.7, 0.8, 0.9, 0.99)


def write_fake_run(
    root: Path,
    run: str,
    dataset: str,
    dataset_label: str,
    method: str,
    model: str,
    paper_model: str,
    T: int,
    simulated: bool = False,
    seenn2: bool = False,
    seed: int = 0,
) -> Path:
    """A run folder following the contract, with small made-up but mutually consistent numbers."""
    rng = np.random.default_rng(seed)
    folder = root / run
    folder.mkdir(parents=True)
    N, C = 40, 10
    info = {
        "run": run,
        "dataset": dataset,
        "dataset_label": dataset_label,
        "simulated": simulated,
        "model": model,
        "paper_model": paper_model,
        "method": method,
        "T": T,
        "num_classes": C,
        "model_note": "width x0.25",
        "seed": seed,
    }
    (folder / "run.json").write_text(json.dumps(info))
    np.savez(
        folder / "timestep_logits.npz",
        logits=rng.normal(size=(T, N, C)).astype(np.float32),
        labels=rng.integers(0, C, size=N).astype(np.int64),
    )
    base = 0.6 + 0.05 * rng.random()
    rows = [("fixed", t, base + 0.3 * (1 - 0.5**t), float(t)) for t in range(1, T + 1)]
    rows += [("seenn1", a, base + 0.3 * a, 1 + (T - 1) * a**2) for a in ALPHA_GRID]
    if seenn2:
        rows += [("seenn2", b, base + 0.2 + 0.01 * b, 1.1 + 0.1 * b) for b in (0.5, 1.0, 2.0)]
    rows += [("topk", 0.0, 0.5, 1.5)]  # a policy the reports do not know: ignored
    sweep = pd.DataFrame(rows, columns=["policy", "param", "accuracy", "avg_timesteps"])
    sweep.to_csv(folder / "sweep.csv", index=False)
    shares = []
    for a in ALPHA_GRID:
        first = 1 - 0.8 * a
        shares += [("seenn1", a, 1, first)]
        shares += [("seenn1", a, t, (1 - first) / (T - 1)) for t in range(2, T + 1)]
    shares = pd.DataFrame(shares, columns=["policy", "param", "t", "share"])
    shares.to_csv(folder / "exit_shares.csv", index=False)
    aet = 1.0 + 0.5 * rng.random()
    (folder / "aet.json").write_text(json.dumps({"aet": aet, "empirical_aet": aet - 0.03, "T": T}))
    return folder


def write_fake_runs(root: Path) -> list[Path]:
    """Three runs like the embedded profile: direct digits (with SEENN-II), conversion, simulated DVS."""
    return [
        write_fake_run(
            root,
            "digits-resnet19",
            "digits",
            "digits (sklearn 8x8)",
            "direct",
            "resnet19",
            "ResNet-19",
            T=4,
            seenn2=True,
            seed=1,
        ),
        write_fake_run(
            root,
            "digits-resnet18-qcfs",
            "digits",
            "digits (sklearn 8x8)",
            "conversion",
            "resnet18",
            "ResNet-18",
            T=8,
            seed=2,
        ),
        write_fake_run(
            root,
            "digits_dvs-vggsnn",
            "digits_dvs",
            "digits DVS (events from digits)",
            "direct",
            "vggsnn",
            "VGGSNN",
            T=10,
            simulated=True,
            seed=3,
        ),
    ]


@pytest.fixture
def runs(tmp_path):
    return load_runs(write_fake_runs(tmp_path / "runs"))


def _cell(tidy: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(tidy), dtype=bool)
    for column, value in where.items():
        mask &= (tidy[column] == value).to_numpy()
    rows = tidy[mask]
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return rows.iloc[0]


def _md_row(markdown: str, *starts: str) -> list[str]:
    """Cells of the markdown line whose first cells are `starts`."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[: len(starts)] == list(starts):
            return cells
    raise AssertionError(f"no markdown row starting with {starts}")


def _md_header(markdown: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(("| Model", "| Training")))
    return [c.strip() for c in line.strip().strip("|").split("|")]


# --- results.py ------------------------------------------------------------------------------------


def test_load_run_reads_the_contract(runs):
    run = runs[0]
    assert (run.run, run.T, run.method, run.n_test) == ("digits-resnet19", 4, "direct", 40)
    fixed = run.sweep[run.sweep["policy"] == "fixed"].sort_values("param")["accuracy"].to_numpy()
    np.testing.assert_allclose(run.accuracy_per_t, fixed)
    assert runs[2].label.endswith("(simulated)")
    assert "simulated" not in runs[0].label


def test_load_run_names_a_missing_file(tmp_path):
    folder = write_fake_run(tmp_path, "r", "digits", "digits", "direct", "resnet19", "ResNet-19", T=4)
    (folder / "aet.json").unlink()
    with pytest.raises(FileNotFoundError, match="aet.json"):
        load_run(folder)


def test_load_run_names_a_missing_key_and_rows(tmp_path):
    folder = write_fake_run(tmp_path, "r", "digits", "digits", "direct", "resnet19", "ResNet-19", T=4)
    info = json.loads((folder / "run.json").read_text())
    del info["paper_model"]
    (folder / "run.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"run.json.*paper_model"):
        load_run(folder)

    folder = write_fake_run(tmp_path, "s", "digits", "digits", "direct", "resnet19", "ResNet-19", T=4)
    sweep = pd.read_csv(folder / "sweep.csv")
    sweep[~((sweep["policy"] == "fixed") & (sweep["param"] == 3))].to_csv(folder / "sweep.csv", index=False)
    with pytest.raises(ValueError, match=r"sweep.csv.*T = 3"):
        load_run(folder)

    folder = write_fake_run(tmp_path, "u", "digits", "digits", "direct", "resnet19", "ResNet-19", T=4)
    np.savez(
        folder / "timestep_logits.npz", logits=np.zeros((3, 5, 10), np.float32), labels=np.zeros(5, np.int64)
    )
    with pytest.raises(ValueError, match="timestep_logits.npz"):
        load_run(folder)


# --- paper.py -------------------------------------------------------------------------------------


def test_paper_transcription_is_consistent():
    keys = [(r.table, r.section, r.model, r.method, r.dataset, r.slot) for r in PAPER_ROWS]
    assert len(keys) == len(set(keys))
    for row in PAPER_ROWS:
        assert row.accuracy is None or 0 < row.accuracy < 100
        assert row.timesteps is None or row.timesteps > 0
    seenn1 = {
        (r.dataset, r.slot): r
        for r in rows_for_table(1)
        if r.model == "ResNet-19" and r.method == "SEENN-I (Ours)"
    }
    assert (seenn1[("cifar10", 1)].accuracy, seenn1[("cifar10", 1)].timesteps) == (96.07, 1.09)
    assert "sec. 4.2" in seenn1[("cifar10", 1)].note
    assert seenn1[("cifar100", 1)].accuracy is None  # lost, never invented
    table4 = {r.method: r for r in rows_for_table(4)}
    assert (table4["SEENN-II (Ours)"].accuracy, table4["SEENN-II (Ours)"].timesteps) == (82.6, 4.5)
    assert (table4["SEENN-I (Ours)"].accuracy, table4["SEENN-I (Ours)"].timesteps) == (None, 2.53)
    assert {(r.model, r.dataset, r.T) for r in PAPER_AET} >= {("VGGSNN", "cifar10_dvs", 10)}


# --- tables.py ------------------------------------------------------------------------------------


def test_table1_has_paper_baselines_and_our_digits_numbers(runs):
    alphas = (0.9, 0.7, 0.99)
    tidy = table1(runs, alphas=alphas, timesteps=(1, 2, None))
    tebn = _cell(tidy, model="ResNet-19", method="TEBN [32]", dataset="cifar10", slot=1)
    assert (tebn["paper_accuracy"], tebn["paper_timesteps"], tebn["status"]) == (95.45, 2.0, "baseline")
    run = runs[0]
    sweep = run.sweep.set_index(["policy", "param"])
    for slot, alpha in enumerate(alphas, start=1):
        ours = _cell(tidy, model="ResNet-19", method="SEENN-I (Ours)", dataset="digits", slot=slot)
        assert ours["ours_accuracy"] == pytest.approx(100 * sweep.loc[("seenn1", alpha), "accuracy"])
        assert ours["ours_timesteps"] == pytest.approx(sweep.loc[("seenn1", alpha), "avg_timesteps"])
        assert ours["status"] == "ours"
    fixed = _cell(tidy, model="ResNet-19", method="TET, fixed T (ours)", dataset="digits", slot=3)
    assert (fixed["param"], fixed["ours_accuracy"]) == (4.0, pytest.approx(100 * run.accuracy_per_t[-1]))
    seenn2 = _cell(tidy, model="ResNet-19", method="SEENN-II (Ours)", dataset="digits", slot=1)
    assert seenn2["status"] == "ours" and seenn2["param"] == 0.5
    # Conversion and event runs do not leak into Table 1.
    assert set(tidy["run"].dropna()) == {"digits-resnet19"}

    markdown = to_markdown(tidy, TABLE_TITLES[1], table_notes(runs[:1], alphas, (1, 2, None)))
    assert markdown.startswith("### Table 1")
    assert "paper 95.45 (2)" in _md_row(markdown, "ResNet-19", "TEBN [32]")[2]
    assert _md_row(markdown, "ResNet-19", "TEBN [32]")[2] == "— · paper 95.45 (2)"
    digits_col = _md_header(markdown).index("digits (sklearn 8x8) Acc1(T1)")
    ours = _cell(tidy, model="ResNet-19", method="SEENN-I (Ours)", dataset="digits", slot=1)
    expected = f"{ours['ours_accuracy']:.2f} ({ours['ours_timesteps']:.2f})"
    assert _md_row(markdown, "ResNet-19", "SEENN-I (Ours)")[digits_col] == expected
    assert "alpha = 0.9, 0.7, 0.99" in markdown and "width x0.25" in markdown


def test_unrun_cifar_column_says_not_run(runs):
    tidy = table1(runs, alphas=(0.9, 0.7, 0.99))
    cell = _cell(tidy, model="ResNet-19", method="SEENN-I (Ours)", dataset="cifar10", slot=1)
    assert cell["status"] == "not run" and cell["paper_accuracy"] == 96.07
    markdown = to_markdown(tidy, TABLE_TITLES[1])
    column = _md_header(markdown).index("CIFAR-10 Acc1(T1)")
    assert _md_row(markdown, "ResNet-19", "SEENN-I (Ours)")[column] == "not run · paper 96.07 (1.09)"
    assert _md_row(markdown, "VGG-16", "SEENN-II (Ours)")[column] == "not run · paper 94.36 (1.09)"


def test_headline_alpha_changes_the_seenn1_cells(runs):
    first = table1(runs, alphas=(0.9, 0.7, 0.99))
    second = table1(runs, alphas=(0.5, 0.7, 0.99))
    a = _cell(first, model="ResNet-19", method="SEENN-I (Ours)", dataset="digits", slot=1)
    b = _cell(second, model="ResNet-19", method="SEENN-I (Ours)", dataset="digits", slot=1)
    assert a["ours_accuracy"] != b["ours_accuracy"] and a["ours_timesteps"] != b["ours_timesteps"]
    assert to_markdown(first, "t") != to_markdown(second, "t")
    with pytest.raises(ValueError, match="seenn1.*0.42"):
        table1(runs, alphas=(0.42,))


def test_table2_conversion_rows(runs):
    tidy = table2(runs, alphas=(0.9, 0.7, 0.99), timesteps=(1, 2, None))
    qcfs = _cell(tidy, model="ResNet-18", method="QCFS (fixed T)", dataset="cifar10", slot=1)
    assert (qcfs["paper_method"], qcfs["paper_accuracy"], qcfs["status"]) == ("QCFS [18]", 75.44, "not run")
    ours = _cell(tidy, model="ResNet-18", method="QCFS (fixed T)", dataset="digits", slot=3)
    assert (ours["param"], ours["ours_timesteps"], ours["status"]) == (8.0, 8.0, "ours")
    assert set(tidy["run"].dropna()) == {"digits-resnet18-qcfs"}
    markdown = to_markdown(tidy, TABLE_TITLES[2])
    assert "doubtful" in markdown  # transcription caveats travel with the table


def test_table3_imagenet_not_run_and_table4_simulated(runs):
    tidy3 = table3(runs, alphas=(0.9, 0.7, 0.99))
    assert tidy3["run"].isna().all()
    assert set(tidy3.loc[tidy3["method"] == "SEENN-I (Ours)", "status"]) == {"not run"}
    markdown3 = to_markdown(tidy3, TABLE_TITLES[3])
    expected = (
        "| conversion | ResNet-34 | QCFS (fixed T) vs paper QCFS [18] | ImageNet | — | not run | 16 | 59.35 |"
    )
    assert expected in re.sub(" +", " ", markdown3)  # tables pad their cells

    tidy4 = table4(runs, alphas=(0.9, 0.7, 0.99))
    assert set(tidy4["run"].dropna()) == {"digits_dvs-vggsnn"}
    paper = _cell(tidy4, model="VGGSNN", method="SEENN-II (Ours)", dataset="cifar10_dvs", slot=1)
    assert (paper["paper_accuracy"], paper["paper_timesteps"]) == (82.6, 4.5)
    markdown4 = to_markdown(tidy4, TABLE_TITLES[4])
    dvs_labels = set(tidy4.loc[tidy4["dataset"] == "digits_dvs", "dataset_label"])
    assert dvs_labels == {"digits DVS (events from digits) (simulated)"}
    assert "digits DVS (events from digits) (simulated)" in markdown4


def test_table5_equals_aet_json(runs, tmp_path):
    tidy = table5(runs)
    for run in runs:
        row = _cell(tidy, run=run.run)
        saved = json.loads((tmp_path / "runs" / run.run / "aet.json").read_text())
        assert row["ours_aet"] == saved["aet"] and row["ours_empirical_aet"] == saved["empirical_aet"]
        assert row["T"] == saved["T"] and row["status"] == "ours"
    paper = _cell(tidy, model="ResNet-19", dataset="cifar10")
    assert (paper["paper_aet"], paper["paper_empirical_aet"], paper["status"]) == (1.1309, 1.1188, "not run")
    markdown = to_markdown(tidy, TABLE_TITLES[5], table_notes(runs))
    assert f"{runs[0].aet:.4f}" in markdown and "1.1309" in markdown


def test_csv_twins_round_trip(runs, tmp_path):
    alphas = (0.9, 0.7, 0.99)
    tables = [
        table1(runs, alphas=alphas),
        table2(runs, alphas=alphas),
        table3(runs, alphas=alphas),
        table4(runs, alphas=alphas),
        table5(runs),
    ]
    for k, tidy in enumerate(tables, start=1):
        path = tmp_path / f"table{k}.csv"
        tidy.to_csv(path, index=False)
        back = pd.read_csv(path)
        pd.testing.assert_frame_equal(tidy, back)


def test_markdown_never_calls_stand_ins_cifar(runs):
    alphas = (0.9, 0.7, 0.99)
    for tidy in (table1(runs, alphas=alphas), table2(runs, alphas=alphas)):
        header = _md_header(to_markdown(tidy, "t"))
        digits = [c for c in header if c.startswith("digits")]
        assert digits and not any("CIFAR" in c for c in digits)
    tidy4 = table4(runs, alphas=alphas)
    ours = tidy4[tidy4["dataset"] == "digits_dvs"]
    assert not ours.empty and all("simulated" in label for label in ours["dataset_label"])
    assert not any("CIFAR" in label for label in ours["dataset_label"])


def test_number_formatting_of_missing_paper_accuracy(runs):
    markdown = to_markdown(table4(runs, alphas=(0.9,)), TABLE_TITLES[4])
    assert "| direct | VGGSNN | SEENN-I (Ours) | CIFAR10-DVS | — | not run | 2.53 | — |" in re.sub(
        " +", " ", markdown
    )  # tables pad their cells


# --- seed replicas ----------------------------------------------------------------------------------


def test_seed_replicas_give_mean_std_and_the_number_of_seeds(tmp_path):
    """A run with one replica (seed 1): every cell both seeds have is their mean, with the sample std, the
    95 % t interval of the mean and n_seeds = 2 (hand-checked on the fixed-T cell); the markdown says
    `[2 seeds]`; SEENN-II cells, which only the seed `seed` has, stay as one seed. Without replicas the
    table has no seed columns at all (as before extra_seeds existed)."""
    import dataclasses

    args = ("digits", "digits (sklearn 8x8)", "direct", "resnet19", "ResNet-19")
    main = load_run(write_fake_run(tmp_path, "r19", *args, T=4, seenn2=True, seed=1))
    replica = load_run(write_fake_run(tmp_path, "r19-seed1", *args, T=4, seed=7))
    alone = table1([main], alphas=ALPHA_GRID[:3])
    assert "n_seeds" not in alone.columns
    both = table1([dataclasses.replace(main, replicas=(replica,))], alphas=ALPHA_GRID[:3])

    a, b = 100 * main.accuracy_per_t[3], 100 * replica.accuracy_per_t[3]
    cell = _cell(both, method="TET, fixed T (ours)", dataset="digits", slot=3)
    assert cell["ours_accuracy"] == pytest.approx((a + b) / 2)
    assert cell["ours_accuracy_std"] == pytest.approx(abs(a - b) / np.sqrt(2))  # n - 1 = 1 degree
    # t(0.975, 1) = 12.7062: the half width is t * std / sqrt(2) = t * |a - b| / 2, clipped to [0, 100]
    half = 12.7062 * abs(a - b) / 2
    assert cell["ours_accuracy"] - cell["ours_accuracy_low"] == pytest.approx(
        min(half, (a + b) / 2), rel=1e-4
    )
    assert cell["ours_accuracy_high"] == pytest.approx(min(100.0, (a + b) / 2 + half), rel=1e-6)
    assert cell["n_seeds"] == 2
    one = _cell(both, method="SEENN-II (Ours)", run="r19", slot=1)
    assert (
        np.isnan(one["n_seeds"])
        and one["ours_accuracy"] == _cell(alone, method="SEENN-II (Ours)", run="r19", slot=1)["ours_accuracy"]
    )

    markdown = to_markdown(
        both, TABLE_TITLES[1], table_notes([dataclasses.replace(main, replicas=(replica,))])
    )
    assert f"{(a + b) / 2:.2f} ± {abs(a - b) / np.sqrt(2):.2f} (4) [2 seeds]" in markdown
    assert "mean ± the standard deviation over the seeds" in markdown
    long = to_markdown(both, TABLE_TITLES[1], layout="long")  # Tables 3 and 4's layout
    assert f"| 4 | {(a + b) / 2:.2f} ± {abs(a - b) / np.sqrt(2):.2f} [2 seeds] |" in re.sub(" +", " ", long)

    aet = _cell(table5([dataclasses.replace(main, replicas=(replica,))]), dataset="digits", model="ResNet-19")
    assert aet["ours_aet"] == pytest.approx((main.aet + replica.aet) / 2) and aet["n_seeds"] == 2
