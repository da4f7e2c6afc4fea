"""benchmarks/gpu_check.py in its `--tiny` mode on the CPU: both files are written, every part is there with
its timing, the markdown carries the numbers, a failing part is recorded and the run goes on, and the
watchdog writes the files when the budget runs out. With a CIFAR-10 JPEG archive named by
SEENN_CIFAR10_ARCHIVE, the failing run trains on a few images of it."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sandbox import ROOT, cifar10_archive

CIFAR_JPEG = cifar10_archive()
PARTS = ("throughput", "training", "latency")


def gpu_check(out: Path, *args: str) -> tuple[int, dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--tiny", "--device", "cpu", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert (out / "gpu_check.json").is_file() and (out / "gpu_check.md").is_file(), proc.stderr
    return (
        proc.returncode,
        json.loads((out / "gpu_check.json").read_text()),
        (out / "gpu_check.md").read_text(),
    )


def few_cifar_images(folder: Path) -> Path | None:
    """4 training and 2 test images of each class from the archive (about 1.5 s: xz is read once)."""
    if CIFAR_JPEG is None or shutil.which("tar") is None:
        return None
    folder.mkdir()
    wanted = ["--wildcards", "train/*/000[0-3].jpg", "test/*/000[0-1].jpg"]
    subprocess.run(["tar", "-xJf", str(CIFAR_JPEG), "-C", str(folder), *wanted], check=True, timeout=60)
    return folder


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    return gpu_check(out)


def test_every_part_is_written_with_its_timing(clean):
    rc, doc, _ = clean
    assert rc == 0 and doc["ok"] is True
    assert doc["machine"]["torch"] and doc["machine"]["device"] == "cpu" and "gpu" in doc["machine"]
    assert doc["settings"]["tiny"] is True and doc["settings"]["budget_s"] == 480
    assert 0 < doc["budget"]["elapsed_s"] < doc["budget"]["budget_s"]
    for name in PARTS:
        part = doc["parts"][name]
        assert part["status"] == "ok", (name, part.get("error"), part.get("traceback"))
        assert part["wall_s"] > 0 and part["box_s"] > 0 and part["started_at_s"] > 0

    a = doc["parts"]["throughput"]["result"]
    expected = {"reference", "fast", "fast_deterministic"} | {
        f"only_{s}" for s in ("amp", "channels_last", "fused_neurons", "data_on_device")
    }
    assert expected <= set(a["paths"]) and all(p["images_per_s"] > 0 for p in a["paths"].values())
    assert a["speedup_fast"] > 0 and a["deterministic_cost"] > 0

    b = doc["parts"]["training"]["result"]
    assert b["data"]["source"] == "synthetic"
    assert b["run"]["epochs"] == b["estimate"]["epochs"] >= 1 and b["epochs_done"] == b["run"]["epochs"]
    assert b["stopped_early"] is None and len(b["epoch_s"]) == b["epochs_done"]
    assert [p["T"] for p in b["accuracy_per_T"]] == [1, 2, 3, 4]
    for p in b["accuracy_per_T"] + b["seenn1"]:
        assert 0 <= p["accuracy_low"] <= p["accuracy"] <= p["accuracy_high"] <= 1
        assert p["n"] == b["data"]["test"]
    assert 0.95 in [p["alpha"] for p in b["seenn1"]]
    assert 1 <= b["aet"]["aet"] <= 4 and abs(sum(b["exit_shares_at_alpha"].values()) - 1) < 1e-9

    c = doc["parts"]["latency"]["result"]
    assert set(c["batches"]) == {"1", "256"} and c["net"] == "trained in part b"
    for r in c["batches"].values():
        assert r["fixed"]["ms_per_sample"] > 0 and r["seenn1"]["ms_per_sample"] > 0
        assert r["ideal_speedup"] == pytest.approx(4 / r["avg_T"]) and r["realized_speedup"] > 0
        assert r["engine_equals_offline"]["exit_step"] == 1.0


def test_the_markdown_holds_the_numbers(clean):
    _, doc, md = clean
    a, b = doc["parts"]["throughput"]["result"], doc["parts"]["training"]["result"]
    c = doc["parts"]["latency"]["result"]["batches"]["256"]
    assert f"{a['paths']['reference']['images_per_s']:.1f}" in md
    assert f"{a['speedup_fast']:.2f}x" in md
    assert f"**{b['run']['epochs']} epochs**" in md and f"{b['estimate']['epoch_s']:.1f} s per epoch" in md
    last = b["accuracy_per_T"][-1]
    assert f"{100 * last['accuracy']:.2f}" in md and f"{100 * last['accuracy_low']:.2f}–" in md
    assert f"AET {b['aet']['aet']:.3f}" in md
    assert f"{c['fixed']['ms_per_sample']:.4f}" in md and f"{c['realized_speedup']:.2f}" in md
    assert "tiny mode" in md
    for name in PARTS:  # the wall-time table
        assert re.search(rf"\| {name}\s+\| ok\s+\|", md), name


def test_a_failing_part_is_recorded_and_the_run_goes_on(tmp_path):
    """Part c asked for an impossible engine batch size, part a given no time: both recorded, part b still
    trains (on a few CIFAR-10 images when SEENN_CIFAR10_ARCHIVE names the archive) and the exit status says
    so."""
    root = few_cifar_images(tmp_path / "cifar10")
    extra = ["--cifar10-root", str(root)] if root else []
    rc, doc, md = gpu_check(tmp_path / "out", "--throughput-s", "0", "--latency-batch-sizes", "0", *extra)
    assert rc == 1 and doc["ok"] is False
    parts = doc["parts"]
    assert parts["throughput"]["status"] == "skipped" and "no time left" in parts["throughput"]["error"]
    assert parts["training"]["status"] == "ok", parts["training"].get("traceback")
    data = parts["training"]["result"]["data"]
    if root:
        assert data["source"] == f"CIFAR-10 from {root}" and (data["train"], data["test"]) == (40, 20)
    latency = parts["latency"]
    assert latency["status"] == "failed" and latency["wall_s"] is not None
    assert "batch_size must be >= 1" in latency["error"] and "Traceback" in latency["traceback"]
    assert "c. Early-exit engine latency: **failed** (" in md and "batch_size must be >= 1" in md
    assert (tmp_path / "out" / "timestep_logits.npz").is_file()


def test_the_watchdog_writes_the_files_and_ends_the_run(tmp_path, monkeypatch):
    from benchmarks import gpu_check as check

    exits = []
    monkeypatch.setattr(check.os, "_exit", exits.append)
    report = check.Report(tmp_path, check.Settings())
    report.data["parts"]["throughput"].update(status="running", _start=time.perf_counter())
    report.current = "throughput"
    timer = check.start_watchdog(report, time.perf_counter() + 0.05)
    timer.join(timeout=10)
    assert exits == [1] and not timer.is_alive()
    doc = json.loads((tmp_path / "gpu_check.json").read_text())
    assert doc["budget"]["stopped_by_watchdog"] is True and doc["ok"] is False
    assert (
        doc["parts"]["throughput"]["status"] == "timed_out" and doc["parts"]["latency"]["status"] == "pending"
    )
    assert "stopped by the watchdog" in (tmp_path / "gpu_check.md").read_text()
