"""The numbers in README.md and docs/ are the committed reports': every generated block equals what
`seenn docs` builds from `reports/` as committed (a local `dvc repro` re-measures latencies in the working
tree; that is not a drift of the committed docs), and a changed report value makes the check fail."""

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from pipeline.docs.blocks import BLOCKS, DocsError, block_names, doc_files, fill, stale_blocks
from stages.docs import blocks
from tests.sandbox import ROOT


def _committed_reports() -> Path:
    """`reports/` as the last commit holds it (the working tree's when this is not a git checkout)."""
    archive = subprocess.run(["git", "archive", "HEAD", "reports"], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        return ROOT / "reports"
    dest = Path(tempfile.mkdtemp(prefix="seenn-committed-"))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "reports"


REPORTS = _committed_reports()


def copy_reports(tmp_path: Path) -> Path:
    dest = tmp_path / "reports"
    shutil.copytree(REPORTS, dest)
    return dest


def test_every_block_matches_the_committed_reports():
    stale = stale_blocks(doc_files(ROOT), REPORTS, blocks())
    assert not stale, "stale generated blocks (run `seenn docs`): " + ", ".join(map(str, stale))


def test_the_headline_blocks_are_where_readers_look():
    readme = block_names((ROOT / "README.md").read_text())
    assert {"results-embedded", "results-cifar10"} <= set(readme)
    results = (ROOT / "docs" / "results.md").read_text()
    section = results.split("## Exit policies at matched accuracy\n", 1)[1].split("\n## ", 1)[0]
    assert block_names(section) == ["verdicts-embedded", "exit-policies-embedded"]
    used = {name for path in doc_files(ROOT) for name in block_names(path.read_text())}
    assert set(blocks()) <= used, f"blocks no page shows: {sorted(set(blocks()) - used)}"


def test_the_headline_shows_every_run_of_the_metrics():
    for folder in (REPORTS, REPORTS / "cifar10-cpu"):
        metrics = json.loads((folder / "metrics.json").read_text())
        name = "results-embedded" if folder == REPORTS else "results-cifar10"
        text = BLOCKS[name](REPORTS)
        for run, values in metrics.items():
            row = next(line for line in text.splitlines() if line.startswith(f"| `{run}` |"))
            assert f"{values['acc']:g}" in row, (run, row)


def test_a_changed_accuracy_in_metrics_json_is_caught(tmp_path):
    reports = copy_reports(tmp_path)
    metrics = json.loads((reports / "metrics.json").read_text())
    run = next(iter(metrics))
    metrics[run]["acc"] = round(metrics[run]["acc"] - 1.23, 2)
    (reports / "metrics.json").write_text(json.dumps(metrics, indent=2))
    stale = {(s.file.name, s.name) for s in stale_blocks(doc_files(ROOT), reports, blocks())}
    assert ("README.md", "results-embedded") in stale and ("results.md", "results-embedded") in stale
    assert not any(name == "results-cifar10" for _, name in stale)


def test_a_changed_value_in_a_table_file_is_caught(tmp_path):
    reports = copy_reports(tmp_path)
    table = reports / "cifar10-cpu" / "tables" / "exit_policies.md"
    text = table.read_text()
    number = re.search(r"\d+\.\d\d", text.split("|---", 1)[1])
    table.write_text(text[: number.start()] + "0.01" + text[number.end() :] if number else text)
    assert number, "no number in the committed exit-policy table"
    stale = {(s.file.name, s.name) for s in stale_blocks(doc_files(ROOT), reports, blocks())}
    assert stale == {("cifar10-cpu.md", "exit-policies-cifar10")}


def test_seenn_docs_check_fails_and_names_the_stale_block(tmp_path):
    reports = copy_reports(tmp_path)
    metrics = json.loads((reports / "cifar10-cpu" / "metrics.json").read_text())
    run = next(iter(metrics))
    metrics[run]["aet"] = metrics[run]["aet"] + 0.5
    (reports / "cifar10-cpu" / "metrics.json").write_text(json.dumps(metrics))
    seenn = Path(sys.executable).parent / "seenn"
    cmd = [str(seenn), "docs", "--check", "--reports", str(reports)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "README.md: results-cifar10" in proc.stdout and "cifar10-cpu.md: results-cifar10" in proc.stdout
    assert "2 stale block(s)" in proc.stderr


def test_an_unknown_block_name_is_an_error():
    with pytest.raises(DocsError, match="unknown generated block 'no-such-block'"):
        fill("<!-- BEGIN GENERATED: no-such-block -->\n<!-- END GENERATED -->\n", REPORTS)


def test_a_missing_report_is_named(tmp_path):
    with pytest.raises(DocsError, match="metrics.json is missing"):
        BLOCKS["results-embedded"](tmp_path)


def test_a_benchmark_file_without_machine_or_command_is_not_quoted(tmp_path):
    (tmp_path / "benchmarks").mkdir(parents=True)
    (tmp_path / "benchmarks" / "a.json").write_text(json.dumps({"speedup": 3.21}))
    (tmp_path / "benchmarks" / "b.json").write_text(
        json.dumps({"machine": {"cpu": "x86"}, "command": "python -m benchmarks.b", "speedup": 1.87})
    )
    text = BLOCKS["benchmarks"](tmp_path)
    assert "3.21" not in text and "Not quoted (no machine or command recorded): `a.json`." in text
    assert "`python -m benchmarks.b` on cpu x86" in text and "| `speedup` | 1.87 |" in text


def test_the_profile_timing_block_gives_minutes_machine_and_command(tmp_path):
    (tmp_path / "cifar10-cpu").mkdir()
    machine = {"cpu": "AMD EPYC", "cores": 2, "python": "3.11.7", "versions": {"torch": "2.14.1", "dvc": "3"}}
    doc = {"command": "time dvc repro", "machine": machine, "cold_dvc_repro_s": 3450.0, "budget_s": 3600}
    doc["stages"] = {"data@cifar10": 66.0, "pretrain_ann@cifar10-fastvgg": 1500.0}
    (tmp_path / "cifar10-cpu" / "timing.json").write_text(json.dumps(doc))
    text = BLOCKS["timing-cifar10"](tmp_path)
    assert text.startswith("Cold `dvc repro`: **57.5 minutes**, within its 60-minute budget, on AMD EPYC, 2 cores")
    assert "command: `time dvc repro`" in text and "| `pretrain_ann@cifar10-fastvgg` | 25.0 |" in text
