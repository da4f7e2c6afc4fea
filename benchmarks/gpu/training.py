"""Part b of the GPU check: the CPU profile's directly trained FastVGG, at full width, trained on CIFAR-10
with the fast recipe (TET with label smoothing, Nesterov, warm-up + cosine) for as many epochs as fit in
its box, then accuracy per T, the SEENN-I sweep and the AET."""

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from benchmarks.gpu.report import _one_line, dynamo_counters
from benchmarks.gpu.settings import PROFILE, RUN, Settings
from pipeline.core.atomic import write_atomic
from pipeline.core.config import CifarData, DirectRun, SpeedParams, parse_params
from pipeline.data import DATASETS
from pipeline.data.cifar import CIFAR_MEAN_STD
from pipeline.data.prepared import DatasetInfo, PreparedData, to_sequence
from pipeline.exits.sweep import aet_summary, sweep_rows
from pipeline.snn.networks import build_direct_snn
from pipeline.training.context import Execution, TrainingContext
from pipeline.training.determinism import apply_determinism, seed_everything
from pipeline.training.feeds import EVAL_BATCH, eval_feed, training_feed
from pipeline.training.loop import evaluate, fit, supervised_task
from pipeline.training.losses import tet_loss
from pipeline.training.recipes import train_config
from pipeline.training.speed import Speed, resolve_speed
from pipeline.training.timebox import (
    EpochDeadline,
    TimeBoxExceeded,
    epoch_estimate,
    epochs_within,
    warmup_samples,
)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object], device: str) -> tuple[object, float]:
    """`fn()` and its seconds, synchronised on CUDA before and after."""
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - start


def _default_kernels(device: str) -> None:
    """Back to the non-deterministic default after a path that switched deterministic mode on
    (`apply_determinism(False, "cpu")` leaves the global flag as it was)."""
    torch.use_deterministic_algorithms(False)
    apply_determinism(False, device)


# --- b. time-boxed CIFAR-10 training ------------------------------------------------------------------------


def recipe(s: Settings) -> tuple[DirectRun, dict, float]:
    """The profile's run at `s.width` and `s.batch_size` (learning rate scaled linearly with the
    batch, the released code's rule) without its timestep curriculum (the time box plans epochs at T, and
    on a GPU short sequences save far less), its sweep settings and the profile's batch size."""
    params = parse_params(yaml.safe_load(PROFILE.read_text()))
    paper = params.direct[RUN]
    run = replace(
        paper,
        width=s.width,
        T=s.T,
        batch_size=s.batch_size,
        lr=paper.lr * s.batch_size / paper.batch_size,
        curriculum_T=0,
        curriculum_epochs=0,
    )
    sweep = params.sweep
    alphas = sorted({*map(float, sweep.alphas), float(s.alpha)})
    return (
        run,
        {"alphas": alphas, "accumulate": sweep.accumulate, "temperature": sweep.direct_temperature},
        paper,
    )


def synthetic_cifar(n_train: int, n_test: int, seed: int) -> PreparedData:
    """CIFAR-10-shaped uint8 images whose class sets their brightness (learnable, and nothing more)."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.permutation(np.arange(n) % 10).astype(np.int64)
        x = rng.integers(0, 96, (n, 3, 32, 32)) + 16 * y[:, None, None, None]
        return x.astype(np.uint8), y

    mean, std = CIFAR_MEAN_STD["cifar10"]
    info = DatasetInfo("cifar10", "synthetic CIFAR-sized data", "static", 10, 3, 32, mean=mean, std=std)
    return PreparedData(info, *split(n_train), *split(n_test))


def load_data(s: Settings) -> tuple[PreparedData, str]:
    """CIFAR-10 from the local copy (never downloaded), or synthetic data without one."""
    if s.cifar10_root is None:
        return synthetic_cifar(s.synthetic_train, s.synthetic_test, s.seed), "synthetic"
    config = CifarData(
        root=s.cifar10_root,
        download=False,
        subset_per_class=s.subset_per_class,
        test_subset_per_class=s.test_subset_per_class,
    )
    return DATASETS.get("cifar10")(config, s.seed), f"CIFAR-10 from {s.cifar10_root}"


def subset(data: PreparedData, n_train: int, n_test: int) -> PreparedData:
    return replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                   x_test=data.x_test[:n_test], y_test=data.y_test[:n_test])  # fmt: skip


@dataclass
class Trainer:
    """The pieces of one training of `run` on `data` with `speed` (the recipe's `train_direct`, unrolled so
    that the model survives a stop between epochs)."""

    run: DirectRun
    data: PreparedData
    device: str
    speed: Speed
    seed: int
    model: torch.nn.Module = field(init=False)

    def __post_init__(self):
        seed_everything(self.seed)
        self.execution = Execution(speed=self.speed)
        self.model = build_direct_snn(self.run, self.data.info)
        self.config = train_config(self.run, self.seed, self.execution)
        self.train = training_feed(self.data, self.config, self.device, self.execution)
        self.test = eval_feed(self.data, "test", self.device, self.execution)
        run = self.run
        loss = lambda out, y: tet_loss(  # noqa: E731
            out, y, run.tet_lambda, mode=run.tet_mode, label_smoothing=run.label_smoothing
        )
        self.task = supervised_task(self.model, loss, self.encode, self.test, self.device, self.speed)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return to_sequence(x, self.data.info, self.run.T)

    def fit(self, on_epoch=None) -> dict:
        ctx = TrainingContext(
            device=self.device, execution=self.execution, on_epoch=on_epoch, desc="gpu-check"
        )
        return fit(self.task, self.train, self.config, ctx)

    def evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        return evaluate(self.model, self.test, self.encode, self.device, self.speed)


def estimate_epoch(run: DirectRun, data: PreparedData, s: Settings, device: str, speed: Speed) -> dict:
    """Seconds per epoch of the real training, from a throwaway model: a warm-up pass over a subset with
    every batch shape of a full epoch (compilation, autotuning), the same pass again, timed, and one timed
    evaluation of the whole test set (which `fit` runs after every epoch)."""
    k_train = warmup_samples(len(data.y_train), run.batch_size, s.warmup_steps)
    k_test = warmup_samples(len(data.y_test), EVAL_BATCH, 1)
    warm = Trainer(replace(run, epochs=1), subset(data, k_train, k_test), device, speed, s.seed)
    _, first_s = _timed(warm.fit, device)
    _, pass_s = _timed(warm.fit, device)
    test = eval_feed(data, "test", device, warm.execution)
    _, eval_s = _timed(lambda: evaluate(warm.model, test, warm.encode, device, speed), device)
    steps = -(-len(data.y_train) // run.batch_size)
    pass_eval_s = eval_s * k_test / len(data.y_test)  # the warm-up pass's own evaluation, k_test images
    return {
        "warmup_samples": k_train,
        "warmup_steps": len(warm.train),
        "first_pass_s": first_s,  # includes compilation and autotuning
        "timed_pass_s": pass_s,
        "eval_s": eval_s,
        "steps_per_epoch": steps,
        "epoch_s": epoch_estimate(pass_s, len(warm.train), steps, eval_s, pass_eval_s),
    }


def training_part(s: Settings, device: str, deadline: float, hard_end: float, shared: dict) -> dict:
    """Load the data; fix the epochs from a timed warm-up so that warm-up and epochs fill `s.train_s` from
    there (never past the part's `deadline`); train, stopping between epochs before `hard_end` if epochs
    run slower than estimated; then evaluate and sweep the saved per-step logits."""
    (data, source), load_s = _timed(lambda: load_data(s), "cpu")
    train_end = min(deadline, time.perf_counter() + s.train_s)
    run, sweep, paper = recipe(s)
    shared.update(data=data, run=run, sweep=sweep)
    speed = resolve_speed(SpeedParams(), device)
    _default_kernels(device)
    result: dict = {
        "data": {"source": source, "train": len(data.y_train), "test": len(data.y_test), "load_s": load_s},
        "recipe": f"profiles/{PROFILE.name} direct.{RUN} at batch {paper.batch_size}, lr {paper.lr:g}, "
        f"with the learning rate scaled linearly to this batch, without its timestep curriculum",
        "speed": asdict(speed),
    }
    try:
        estimate = estimate_epoch(run, data, s, device, speed)
    except Exception as err:  # noqa: BLE001 (the fast path failed: the reference path is the fallback)
        result["fast_path_error"] = _one_line(err)
        speed = Speed(data_on_device=True)
        result["speed"] = asdict(speed)
        _default_kernels(device)
        estimate = estimate_epoch(run, data, s, device, speed)
    left = train_end - time.perf_counter()
    epochs = epochs_within(left, estimate["epoch_s"], s.epoch_margin, 1, s.max_epochs or None)
    run = replace(run, epochs=epochs)
    result.update(run=asdict(run), estimate={**estimate, "box_left_s": left, "epochs": epochs})
    trainer = Trainer(run, data, device, speed, s.seed)
    guard = EpochDeadline(hard_end, epochs)
    shared.update(model=trainer.model, run=run)
    try:
        trainer.fit(on_epoch=guard)
        result["stopped_early"] = None
    except TimeBoxExceeded as stop:
        result["stopped_early"] = str(stop)
    result["epochs_done"] = len(guard.epoch_s)
    result["epoch_s"] = guard.epoch_s
    result["history"] = guard.history
    result["train_s"] = sum(guard.epoch_s)
    if guard.epoch_s:
        median = statistics.median(guard.epoch_s[1:] or guard.epoch_s)  # the first pays new shapes
        result["epoch_s_median"] = median
        result["projected_300_epochs_h"] = median * 300 / 3600
    (logits, labels), eval_s = _timed(trainer.evaluate, device)
    result["eval_s"] = eval_s
    result.update(sweep_results(logits, labels, sweep, s.alpha, shared["out"]))
    result["dynamo"] = dynamo_counters()
    shared["trained"] = True
    return result


def sweep_results(logits: np.ndarray, labels: np.ndarray, sweep: dict, alpha: float, out: Path) -> dict:
    """Save the per-step test logits, then score them from the saved file: accuracy per T (Wilson 95 %),
    the SEENN-I sweep over the alpha grid, exit shares at `alpha`, AET and empirical AET."""
    path = out / "timestep_logits.npz"
    write_atomic(path, lambda tmp: np.savez_compressed(tmp, logits=logits, labels=labels))
    with np.load(path) as saved:
        logits, labels = saved["logits"], saved["labels"]
    table, shares = sweep_rows(logits, labels, sweep["alphas"], sweep["accumulate"], sweep["temperature"])
    columns = ["param", "accuracy", "accuracy_low", "accuracy_high", "avg_timesteps",
               "avg_timesteps_low", "avg_timesteps_high", "n"]  # fmt: skip
    per_t = table[table.policy == "fixed"][columns].rename(columns={"param": "T"})
    seenn1 = table[table.policy == "seenn1"][columns].rename(columns={"param": "alpha"})
    at_alpha = shares[np.isclose(shares.param, alpha)]
    return {
        "logits_file": path.name,
        "sweep": sweep,
        "accuracy_per_T": per_t.to_dict("records"),
        "seenn1": seenn1.to_dict("records"),
        "exit_shares_at_alpha": {int(r.t): float(r.share) for r in at_alpha.itertuples()},
        "aet": aet_summary(logits, labels),
    }
