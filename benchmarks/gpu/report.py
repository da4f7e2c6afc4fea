"""The GPU check's report: one JSON document, rendered as markdown, written after every part and by the
watchdog; each part run in its time box; the machine it ran on."""

import json
import os
import platform
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmarks.gpu.settings import PARTS, PASSES, ROOT, T0, Settings
from pipeline.core.atomic import write_text_atomic
from pipeline.report.markdown import NO_VALUE, pipe_table

# --- the report: one JSON document, rendered as markdown, written after every part and by the watchdog ---


class Report:
    """The JSON document of the run; `write` renders both files atomically (thread-safe)."""

    def __init__(self, out: Path, settings: Settings):
        self.out, self.lock = out, threading.Lock()
        self.current: str | None = None  # the part now running
        self.data: dict = {
            "schema": 1,
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ok": None,
            "settings": _jsonable(asdict(settings)),
            "machine": {},
            "budget": {"budget_s": settings.budget_s, "elapsed_s": None, "stopped_by_watchdog": False},
            "parts": {name: {"status": "pending", "wall_s": None} for name in PARTS},
        }

    def write(self, final: bool = False) -> None:
        with self.lock:
            parts = self.data["parts"].values()
            self.data["budget"]["elapsed_s"] = round(time.perf_counter() - T0, 2)
            if final:
                self.data["ok"] = all(p["status"] == "ok" for p in parts)
            text = json.dumps(_jsonable(self.data), indent=2) + "\n"
            write_text_atomic(self.out / "gpu_check.json", text)
            write_text_atomic(self.out / "gpu_check.md", render_markdown(self.data))

    def watchdog_fired(self) -> None:
        """The budget is spent: the running part is marked, both files are written (the main thread may
        be changing the document meanwhile: a failed write is tried once more)."""
        if self.current is not None:
            part = self.data["parts"][self.current]
            part.update(status="timed_out", error="the total budget ran out while this part was running")
            part["wall_s"] = round(time.perf_counter() - part.get("_start", time.perf_counter()), 2)
        self.data["budget"]["stopped_by_watchdog"] = True
        try:
            self.write(final=True)
        except RuntimeError:  # "dictionary changed size during iteration"
            self.write(final=True)


def _jsonable(value):
    """Plain JSON values: numpy scalars and arrays, tuples and non-finite floats (as null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def start_watchdog(report: Report, deadline: float) -> threading.Timer:
    """At `deadline` (a perf_counter value): write what there is and end the process (status 1)."""

    def fire() -> None:
        try:
            report.watchdog_fired()
        finally:
            os._exit(1)

    timer = threading.Timer(max(0.0, deadline - time.perf_counter()), fire)
    timer.daemon = True
    timer.start()
    return timer


def run_part(report: Report, name: str, box_s: float, work: Callable[[float], dict]) -> None:
    """Run one part in its box: `work(deadline)` returns its result (a "status" key of "partial" marks a
    part some of whose measurements failed); an exception is recorded, and the run goes on."""
    part = report.data["parts"][name]
    start = time.perf_counter()
    part.update(status="running", box_s=round(box_s, 1), started_at_s=round(start - T0, 2), _start=start)
    if box_s <= 0:
        part.update(status="skipped", error="no time left in the budget for this part", wall_s=0.0)
        report.write()
        log(f"{name}: skipped (no time left in the budget)")
        return
    report.current = name
    report.write()
    log(f"{name}: started, box {box_s:.0f} s")
    try:
        result = work(start + box_s)
        part.update(status=result.pop("status", "ok"), result=result)
    except Exception as err:  # noqa: BLE001 (a failed part is recorded; the others still run)
        part.update(status="failed", error=_one_line(err), traceback=traceback.format_exc(limit=12))
    finally:
        report.current = None
    part["wall_s"] = round(time.perf_counter() - start, 2)
    report.write()
    error = f" ({part['error']})" if part.get("error") else ""
    log(f"{name}: {part['status']} in {part['wall_s']:.1f} s{error}")


def log(message: str) -> None:
    """A progress line on stdout, stamped with the seconds since the start."""
    print(f"[gpu_check {time.perf_counter() - T0:6.1f} s] {message}", flush=True)


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else '-'}"


# --- the machine -------------------------------------------------------------------------------------------


def _command(args: list[str]) -> str | None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return done.stdout.strip() if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine(device: str) -> dict:
    """GPU, driver, torch, CUDA and cuDNN versions, CPU threads, the checkout's commit."""
    info = {
        "device": device,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "git_commit": _command(["git", "rev-parse", "HEAD"]),
        "git_dirty": None,
    }
    status = _command(["git", "status", "--porcelain", "--untracked-files=no"])
    info["git_dirty"] = None if status is None else bool(status)
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(torch.cuda.current_device())
        info.update(
            gpu=p.name,
            gpu_memory_gib=round(p.total_memory / 2**30, 1),
            multiprocessors=p.multi_processor_count,
            capability=f"{p.major}.{p.minor}",
            driver=_command(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]),
        )
    else:
        info["gpu"] = None
    return info


def dynamo_counters() -> dict:
    """torch.compile's own counts (graphs compiled, recompilations), to see whether shapes fell back."""
    try:
        from torch._dynamo.utils import counters

        return {group: dict(values) for group, values in counters.items() if group in ("stats", "recompiles")}
    except Exception:  # noqa: BLE001 (diagnostics only)
        return {}


# --- markdown -----------------------------------------------------------------------------------------------


def _f(value, spec: str = ".1f", scale: float = 1.0) -> str:
    return NO_VALUE if value is None else format(value * scale, spec)


def _status_line(name: str, part: dict) -> str:
    line = f"{name}: **{part['status']}**"
    if part.get("error"):
        line += f" ({part['error']})"
    return line


def render_markdown(doc: dict) -> str:
    """The summary a maintainer pastes into the README: machine, the three parts' numbers, wall times."""
    m, settings, parts = doc.get("machine", {}), doc["settings"], doc["parts"]
    gpu = m.get("gpu") or f"no GPU ({m.get('device', '?')})"
    lines = [
        f"#### One-shot GPU check: {gpu}",
        "",
        f"`python -m benchmarks.gpu_check` on {doc['started_utc'][:10]}: {gpu}"
        + (f" ({m['gpu_memory_gib']} GiB, driver {m.get('driver') or '?'})" if m.get("gpu") else "")
        + f", torch {m.get('torch', '?')}, CUDA {m.get('cuda') or '—'}, cuDNN {m.get('cudnn') or '—'}, "
        f"commit {str(m.get('git_commit') or '?')[:10]}{' (modified)' if m.get('git_dirty') else ''}"
        + (" — **tiny mode (a test run, not a measurement)**" if settings.get("tiny") else "")
        + ".",
        "",
    ]
    lines += _throughput_md(parts["throughput"]) + _training_md(parts["training"], settings)
    lines += _latency_md(parts["latency"])
    budget = doc["budget"]
    rows = [[name, parts[name]["status"], _f(parts[name].get("box_s"), ".0f"), _f(parts[name].get("wall_s"))]
            for name in PARTS]  # fmt: skip
    lines += [
        "Wall time (s) per part, in a total budget of "
        f"{budget['budget_s']:g} s (elapsed {_f(budget.get('elapsed_s'))} s"
        + (", stopped by the watchdog" if budget.get("stopped_by_watchdog") else "")
        + "):",
        "",
        pipe_table(["part", "status", "box", "wall"], rows),
        "",
    ]
    return "\n".join(lines)


def _throughput_md(part: dict) -> list[str]:
    r = part.get("result")
    if not r:
        return [_status_line("a. Training throughput", part), ""]
    rows = [
        [name, "yes" if p["deterministic"] else "no", _f(p["images_per_s"]), _f(p["vs_reference"], ".2f"),
         ", ".join(f"{t:.2f}" for t in p["epochs_s"]) or NO_VALUE, p["error"] or ""]
        for name, p in r["paths"].items()
    ]  # fmt: skip
    return [
        f"**a. Training throughput** ({part['status']}): {r['model']} width {r['width']:g}, T = {r['T']}, "
        f"batch {r['batch_size']}, {r['input_size']}x{r['input_size']} synthetic images with crop + flip, "
        f"TET loss, the real `fit` loop; median of up to {r['repeats_asked']} timed epochs of "
        f"{r['steps_per_epoch']} steps per path. Fast path / reference: **{_f(r['speedup_fast'], '.2f')}x**; "
        f"deterministic mode costs **{_f(r['deterministic_cost'], '.2f')}x** (fast / fast deterministic).",
        "",
        pipe_table(["path", "deterministic", "images/s", "/ reference", "epochs (s)", "error"], rows),
        "",
    ]


def _training_md(part: dict, settings: dict) -> list[str]:
    r = part.get("result")
    if not r:
        return [_status_line("b. Time-boxed CIFAR-10 training", part), ""]
    run, est, data = r["run"], r["estimate"], r["data"]
    stopped = f" **Stopped early**: {r['stopped_early']}." if r.get("stopped_early") else ""
    fallback = f" The fast path failed ({r['fast_path_error']}); trained on the reference path." if r.get(
        "fast_path_error") else ""  # fmt: skip
    per_t = [
        [
            int(p["T"]),
            _f(p["accuracy"], ".2f", 100),
            f"{100 * p['accuracy_low']:.2f}–{100 * p['accuracy_high']:.2f}",
        ]
        for p in r["accuracy_per_T"]
    ]
    sweep = [[f"{p['alpha']:g}", _f(p["accuracy"], ".2f", 100),
              f"{100 * p['accuracy_low']:.2f}–{100 * p['accuracy_high']:.2f}", _f(p["avg_timesteps"], ".3f")]
             for p in r["seenn1"]]  # fmt: skip
    aet = r["aet"]
    shares = ", ".join(f"t={t}: {100 * v:.1f} %" for t, v in r["exit_shares_at_alpha"].items())
    return [
        f"**b. Time-boxed CIFAR-10 training** ({part['status']}): {data['source']} ({data['train']} train / "
        f"{data['test']} test images, loaded in {data['load_s']:.1f} s); {run['model']} "
        f"width {run['width']:g}, T = {run['T']}, TET ({run['surrogate']} surrogate), SGD lr {run['lr']:g} "
        f"+ cosine over **{run['epochs']} epochs**, batch {run['batch_size']}, crop + flip "
        f"(recipe: {r['recipe']}). Epochs fixed before training from a timed warm-up: "
        f"{est['epoch_s']:.1f} s per epoch estimated ({est['steps_per_epoch']} steps, evaluation "
        f"{est['eval_s']:.1f} s; the first warm-up pass, "
        f"compilation included, took {est['first_pass_s']:.1f} s) for {est['box_left_s']:.0f} s left of the "
        f"{settings['train_s']:g} s box; measured {_f(r.get('epoch_s_median'))} s per epoch (median), "
        f"{r['epochs_done']} epochs in {r['train_s']:.0f} s, so 300 epochs would take about "
        f"**{_f(r.get('projected_300_epochs_h'), '.2f')} h** at this batch size.{stopped}{fallback}",
        "",
        "Test accuracy per T (%, Wilson 95 % interval):",
        "",
        pipe_table(["T", "accuracy", "95 %"], per_t),
        "",
        f"SEENN-I on the saved per-step logits (`{r['logits_file']}`; sum of logits, temperature "
        f"{r['sweep']['temperature']:g}); AET {aet['aet']:.3f} ({aet['aet_low']:.3f}–{aet['aet_high']:.3f}), "
        f"empirical AET {aet['empirical_aet']:.3f}; exits at alpha {settings['alpha']:g}: {shares}:",
        "",
        pipe_table(["alpha", "accuracy", "95 %", "avg T"], sweep),
        "",
    ]


def _latency_md(part: dict) -> list[str]:
    r = part.get("result")
    head = _status_line("c. Early-exit engine latency", part)
    if not r:
        return [head, ""]
    rows = []
    for batch, b in r["batches"].items():
        if "error" in b:
            rows.append([batch, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE,
                         NO_VALUE, f"failed: {b['error']}"])  # fmt: skip
            continue
        same = b["engine_equals_offline"]
        rows.append([
            batch, b["samples"], *(_f(b[k]["ms_per_sample"], ".4f") for k in PASSES),
            _f(b["avg_T"], ".3f"), _f(b["ideal_speedup"], ".2f"),
            _f(b["realized_speedup"], ".2f"), _f(b["ratio"], ".2f"),
            f"{100 * same['exit_step']:.2f} % / {100 * same['prediction']:.2f} %",
        ])  # fmt: skip
    return [
        f"**c. Early-exit engine latency** ({part['status']}): net {r['net']}, {r['precision']}, "
        f"fixed T = {r['T']} against SEENN-I at alpha {r['alpha']:g} through `pipeline/hardware/engine.py` "
        f"(median of alternating passes over a seeded random subset of the test set); merged = all T steps "
        f"in one call per batch, no engine. Realized speed-up = fixed / SEENN-I time; ideal = T / avg T.",
        "",
        pipe_table(
            [
                "batch",
                "inputs",
                "fixed ms/input",
                "SEENN-I ms/input",
                "merged ms/input",
                "avg T",
                "ideal",
                "realized",
                "ratio",
                "engine = offline (exits / predictions)",
            ],
            rows,
        ),  # fmt: skip
        "",
    ]
