"""Typed, validated params: the schema of params.yaml.

`parse_params(raw)` turns the loaded YAML into frozen dataclasses or raises `ParamsError` with one line
that names the key, the value and what is allowed. Each field's `metadata` states its rule; unknown keys
are refused with a did-you-mean suggestion. Stages call this before doing any work. The schema itself lives
in `rules` (names, `rule`), `data_params` and `sections`; every name is re-exported here.
"""

import difflib
import math
import typing
from dataclasses import asdict, fields
from typing import Any

# Every name of the schema is re-exported: `from pipeline.core.config import SweepParams` keeps working.
from pipeline.core.data_params import *  # noqa: F403
from pipeline.core.data_params import DataParams
from pipeline.core.rules import *  # noqa: F403
from pipeline.core.rules import (
    BASIC_RESNETS,
    EVENT_DATASETS,
    IMAGENET_STEM_MODELS,
    MISSING,
    RESNETS,
    STATIC_DATASETS,
    ParamsError,
)
from pipeline.core.sections import *  # noqa: F403
from pipeline.core.sections import (
    SWITCH,
    ConversionRun,
    DirectRun,
    Params,
    ReleasedRun,
    SeennIIParams,
    SpeedParams,
)


# --- validation -------------------------------------------------------------------------------------
def _fail(key: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ParamsError(f"params: {key} = {value!r} is not allowed: {allowed}")


def _allowed(meta: dict) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_open") else "["
    right = ")" if meta.get("high_open") else "]"
    if low is not None and high is not None:
        return f"a value in {left}{low}, {high}{right}"
    if low is not None:
        return f"a value {'>' if meta.get('low_open') else '>='} {low}"
    if high is not None:
        return f"a value {'<' if meta.get('high_open') else '<='} {high}"
    return "see params.yaml"


def _check_scalar(key: str, value: Any, kind: type, meta: dict) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            _fail(key, value, "true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(key, value, "an integer, " + _allowed(meta))
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            _fail(key, value, "a number, " + _allowed(meta))
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            _fail(key, value, "a string, " + _allowed(meta))
    if meta.get("choices") and value not in meta["choices"]:
        _fail(key, value, _allowed(meta))
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value < low or (meta.get("low_open") and value == low)):
        _fail(key, value, _allowed(meta))
    if high is not None and (value > high or (meta.get("high_open") and value == high)):
        _fail(key, value, _allowed(meta))
    return value


# Keys params files once had, with where their job went (the one-line error says it instead of a guess).
RETIRED = {
    "launcher": "the launcher is no longer a param (it cannot change results, and a param in the stage "
    "command would invalidate them): remove it and set SEENN_LAUNCHER, e.g. "
    "SEENN_LAUNCHER='torchrun --nproc_per_node 4', or write it in .seenn/launcher "
    '(README "Several GPUs or nodes")',
}


def _unknown(prefix: str, key: str, known: list[str]) -> typing.NoReturn:
    if prefix + key in RETIRED:
        raise ParamsError(f"params: unknown key {prefix + key!r}: {RETIRED[prefix + key]}")
    guess = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(known)}"
    raise ParamsError(f"params: unknown key {prefix + key!r}{hint}")


def build(cls: type, raw: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping, checking every key against its rule."""
    where = prefix.rstrip(".") or "params.yaml"
    if not isinstance(raw, dict):
        raise ParamsError(f"params: {where} must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    for key in raw:
        if key not in known:
            _unknown(prefix, str(key), known)
    values = {}
    for f in fields(cls):
        key = prefix + f.name
        kind = hints[f.name]
        if f.name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ParamsError(f"params: {key} is missing ({f.metadata.get('doc', 'required')})")
            continue
        value = raw[f.name]
        if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
            values[f.name] = build(kind, value, key + ".")
        elif kind is dict or kind is typing.Any:
            values[f.name] = value  # run tables and free-form keys are checked by parse_params
        elif kind is list:
            empty_ok = f.metadata.get("empty_ok", False)
            if not isinstance(value, list) or not (value or empty_ok):
                _fail(key, value, "a list" if empty_ok else "a non-empty list")
            values[f.name] = value
        else:
            values[f.name] = _check_scalar(key, value, kind, dict(f.metadata))
    return cls(**values)


def _check_list(key: str, values: list, kind: type, meta: dict) -> list:
    return [_check_scalar(f"{key}[{i}]", v, kind, meta) for i, v in enumerate(values)]


def _build_runs(cls: type, raw: Any, section: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ParamsError(f"params: {section} must map run names to settings, got {raw!r}")
    runs = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            _fail(f"{section}.{name}", name, "a run name of letters, digits, '-' and '_'")
        runs[name] = build(cls, spec, f"{section}.{name}.")
    return runs


def parse_params(raw: Any) -> Params:
    """Validate the whole of params.yaml; raise ParamsError naming the first bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"params: params.yaml must be a mapping, got {type(raw).__name__}")
    raw = dict(raw)
    conversion = _build_runs(ConversionRun, raw.pop("conversion", None), "conversion")
    direct = _build_runs(DirectRun, raw.pop("direct", None), "direct")
    released = _build_runs(ReleasedRun, raw.pop("released", None), "released")
    params = build(Params, raw)
    unit = dict(low=0, high=1, low_open=True, high_open=True)
    _check_list("sweep.alphas", params.sweep.alphas, float, unit)
    _check_list("sweep.topk_betas", params.sweep.topk_betas, float, dict(low=0))
    _check_list(
        "sweep.cutoff_epsilons", params.sweep.cutoff_epsilons, float, dict(low=0, high=1, high_open=True)
    )
    _check_list(
        "sweep.entropy_thresholds",
        params.sweep.entropy_thresholds,
        float,
        dict(low=0, high=1, high_open=True),
    )
    _check_list("tables.alphas", params.tables.alphas, float, unit)
    _check_list("tables.timesteps", params.tables.timesteps, int, dict(low=1))
    for i, a in enumerate(params.tables.alphas):
        if a not in params.sweep.alphas:
            _fail(f"tables.alphas[{i}]", a, "a value of sweep.alphas (the tables read the sweep's rows)")
    both = set(conversion) & set(direct)
    if both:
        raise ParamsError(f"params: run name {sorted(both)[0]!r} appears in both conversion and direct")
    taken = {*conversion, *direct, *(f"{name}-ann" for name in conversion)}  # folders under runs/
    _check_seeds(params.seed, params.extra_seeds, taken)
    for name, run in released.items():
        if name in taken:
            _fail(f"released.{name}", name, "a run name that no conversion or direct run uses (runs/<name>)")
        if not run.file.strip():
            _fail(f"released.{name}.file", run.file, "the path of the authors' checkpoint")
    for section, runs in (("conversion", conversion), ("direct", direct), ("released", released)):
        for name, run in runs.items():
            _check_architecture(f"{section}.{name}", run)
    for name, run in direct.items():
        _check_curriculum(f"direct.{name}", run)
    frames = {"digits_dvs": params.data.digits_dvs.frames, "cifar10_dvs": params.data.cifar10_dvs.frames}
    for section, runs in (("conversion", conversion), ("direct", direct)):
        for name, run in runs.items():
            if run.dataset in frames and run.T > frames[run.dataset]:
                _fail(
                    f"{section}.{name}.T", run.T, f"at most data.{run.dataset}.frames = {frames[run.dataset]}"
                )
            if section == "conversion" and run.dataset in EVENT_DATASETS:
                _fail(
                    f"{section}.{name}.dataset",
                    run.dataset,
                    "a static-image dataset (" + ", ".join(STATIC_DATASETS) + ")",
                )
    _check_seenn2(params.seenn2, direct, params.data)
    for f in fields(SpeedParams):
        value = getattr(params.speed, f.name)
        if value not in SWITCH or isinstance(value, (int, float)) and not isinstance(value, bool):
            _fail(f"speed.{f.name}", value, "auto, true or false")
    return Params(
        **{
            **{f.name: getattr(params, f.name) for f in fields(Params)},
            "conversion": conversion,
            "direct": direct,
            "released": released,
        }
    )


def _check_seeds(seed: int, extra: Any, taken: set[str]) -> None:
    """`extra_seeds`: distinct integers >= 0 other than `seed`, whose replica folders name no other run."""
    if not isinstance(extra, list):
        _fail("extra_seeds", extra, "a list of seeds, e.g. [1, 2] ([] = one seed)")
    seeds = _check_list("extra_seeds", extra, int, dict(low=0))
    if len(set(seeds)) != len(seeds) or seed in seeds:
        _fail("extra_seeds", extra, f"distinct seeds other than seed = {seed}")
    for name in sorted(taken):
        for k in seeds:
            if f"{name}-seed{k}" in taken:
                _fail(
                    "extra_seeds", extra, f"seeds whose replica folder runs/{name}-seed{k} is no run's name"
                )


def _check_architecture(prefix: str, run: Any) -> None:
    """An architecture option the run's model does not have must keep its default."""
    if run.shortcut != "avgpool" and run.model not in BASIC_RESNETS:
        _fail(f"{prefix}.shortcut", run.shortcut, "avgpool: only " + ", ".join(BASIC_RESNETS) + " have it")
    if run.stem != "auto" and run.model not in RESNETS:
        _fail(f"{prefix}.stem", run.stem, "auto: only the ResNets (" + ", ".join(RESNETS) + ") have it")
    imagenet_stem = run.stem == "imagenet" or (run.stem == "auto" and run.model in IMAGENET_STEM_MODELS)
    if run.stem_pool not in ("auto", "avg") and not imagenet_stem:
        _fail(f"{prefix}.stem_pool", run.stem_pool, "auto: only an ImageNet stem (7x7/2 + pooling) pools")
    if run.vgg_head != "gap" and run.model != "vgg16":
        _fail(f"{prefix}.vgg_head", run.vgg_head, "gap: only vgg16 has this option")
    if getattr(run, "ema", 0) > 0 and getattr(run, "select", "last") != "last":
        _fail(f"{prefix}.ema", run.ema, "0 when select is best_holdout (a run keeps one set of weights)")


def _check_curriculum(prefix: str, run: Any) -> None:
    """A timestep curriculum is both keys or neither: fewer steps than T for fewer epochs than `epochs`."""
    if run.curriculum_epochs == 0:
        if run.curriculum_T != 0:
            _fail(
                f"{prefix}.curriculum_T", run.curriculum_T, "0 while curriculum_epochs is 0 (no curriculum)"
            )
        return
    if not 1 <= run.curriculum_T < run.T:
        _fail(
            f"{prefix}.curriculum_T", run.curriculum_T, f"1 to T - 1 = {run.T - 1} with curriculum_epochs > 0"
        )
    if run.curriculum_epochs >= run.epochs:
        _fail(
            f"{prefix}.curriculum_epochs",
            run.curriculum_epochs,
            f"fewer than epochs = {run.epochs} (the last epochs train at T)",
        )


def _check_seenn2(s: "SeennIIParams", direct: dict, data: "DataParams | None" = None) -> None:
    for i, name in enumerate(s.runs):
        if name not in direct:
            _fail(f"seenn2.runs[{i}]", name, "the name of a run in `direct` (" + ", ".join(direct) + ")")
        dataset = direct[name].dataset
        held = getattr(getattr(data, dataset, None), "holdout_fraction", 0.0) if data is not None else 0.0
        if s.policy_data == "holdout" and not held > 0:
            _fail(
                "seenn2.policy_data",
                s.policy_data,
                f"train, or a held-out split for run {name}: data.{dataset}.holdout_fraction > 0",
            )
    if len(set(s.runs)) != len(s.runs):
        _fail("seenn2.runs", s.runs, "a list without repeats")
    _check_list("seenn2.betas", s.betas, float, dict(low=0))
    if s.candidates == "all":
        return
    if not isinstance(s.candidates, list) or not s.candidates:
        _fail("seenn2.candidates", s.candidates, "'all' or a non-empty list of timesteps")
    steps = _check_list("seenn2.candidates", s.candidates, int, dict(low=1))
    if steps != sorted(set(steps)):
        _fail("seenn2.candidates", s.candidates, "increasing timesteps without repeats")
    for name in s.runs:
        if steps[-1] > direct[name].T:
            _fail(
                "seenn2.candidates", s.candidates, f"timesteps of at most direct.{name}.T = {direct[name].T}"
            )


def resolved(params: Params) -> dict:
    """Every key of `params` with its value, defaults included, as plain YAML-ready data.

    check_params writes this as build/params.yaml and the other stages declare their DVC params from it,
    so a key left at its default is still a tracked value: changing a default re-runs the stages that use
    it, and a stage can declare a key that params.yaml does not spell out.
    """
    return asdict(params)


def candidate_steps(candidates: "str | list[int]", T: int) -> tuple[int, ...]:
    """The SEENN-II action space of a run with T timesteps."""
    return tuple(range(1, T + 1)) if candidates == "all" else tuple(candidates)


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is present, else `cpu`; `cuda` without a GPU is an error."""
    from pipeline.core.execution import cuda_visible, device_for

    return device_for(device, cuda_visible(device))
