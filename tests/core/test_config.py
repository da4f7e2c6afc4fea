"""The params schema: each rule refuses a wrong value with one line naming key, value and what is
allowed; the committed params.yaml is valid; a failing check writes nothing."""

import copy

import pytest
import yaml
from typer.testing import CliRunner

from tests.sandbox import ROOT
from pipeline.core.config import ParamsError, parse_params
from stages.cli import app

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_value(key: str, value):
    params = copy.deepcopy(BASE)
    node = params
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    return params


def test_committed_params_are_valid():
    """params.yaml as committed passes the schema."""
    p = parse_params(BASE)
    assert p.direct and p.conversion


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("alpha", 1.0, "alpha = 1.0 is not allowed: a value in (0, 1)"),
        ("alpha", 0, "alpha = 0"),
        ("alpha", "high", "alpha = 'high'"),
        ("beta", -0.5, "beta = -0.5 is not allowed"),
        ("seed", 1.5, "seed = 1.5 is not allowed: an integer"),
        ("seed", True, "seed = True"),
        ("device", "tpu", "device = 'tpu' is not allowed: one of auto, cpu, cuda"),
        ("direct.vgg16.T", 0, "direct.vgg16.T = 0"),
        ("direct.vgg16.model", "vgg99", "direct.vgg16.model = 'vgg99'"),
        ("direct.vgg16.dataset", "cifar11", "direct.vgg16.dataset = 'cifar11'"),
        ("direct.vgg16.surrogate", "relu", "surrogate = 'relu'"),
        ("direct.vgg16.lr", 0, "lr = 0"),
        ("direct.vggsnn-dvs.T", 99, "at most data.digits_dvs.frames"),
        ("conversion.r18-qcfs.dataset", "digits_dvs", "a static-image dataset"),
        ("conversion.r18-qcfs.qcfs_levels", 0, "qcfs_levels = 0"),
        ("data.digits.test_fraction", 1.0, "data.digits.test_fraction = 1.0"),
        ("sweep.alphas", [0.5, 1.2], "sweep.alphas[1] = 1.2"),
        ("sweep.alphas", [], "sweep.alphas = [] is not allowed: a non-empty list"),
        ("seenn2.betas", 4.0, "seenn2.betas = 4.0 is not allowed: a list"),
        ("sweep.accumulate", "max", "sweep.accumulate = 'max'"),
        ("tables.timesteps", [0], "tables.timesteps[0] = 0"),
        ("tables.alphas", [0.42], "tables.alphas[0] = 0.42 is not allowed: a value of sweep.alphas"),
        ("extra_seeds", [0], "distinct seeds other than seed = 0"),
        ("extra_seeds", [1, 1], "distinct seeds"),
        ("extra_seeds", [-1], "extra_seeds[0] = -1"),
        ("extra_seeds", [1.5], "extra_seeds[0] = 1.5 is not allowed: an integer"),
        ("extra_seeds", 3, "extra_seeds = 3 is not allowed: a list of seeds"),
        ("direct.r19.label_smoothing", 1.0, "direct.r19.label_smoothing = 1.0"),
        ("direct.r19.ema", 1.0, "direct.r19.ema = 1.0"),
        ("conversion.r18-qcfs.warmup_epochs", -1, "conversion.r18-qcfs.warmup_epochs = -1"),
        ("direct.r19.calibration_per_class", -2, "direct.r19.calibration_per_class = -2"),
    ],
)
def test_each_rule_rejects_a_wrong_value(key, value, needle):
    """A wrong type, range or choice names the key, the value and what is allowed, in one line."""
    with pytest.raises(ParamsError) as err:
        parse_params(with_value(key, value))
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_seenn2_betas_may_be_empty():
    """The one list key that may be empty: no SEENN-II grid beyond the headline beta."""
    assert parse_params(with_value("seenn2.betas", [])).seenn2.betas == []


@pytest.mark.parametrize(
    "key,suggestion",
    [("alhpa", "'alpha'"), ("direct.vgg16.epoch", "'epochs'"), ("sweep.alpha", "'alphas'")],
)
def test_unknown_keys_get_a_suggestion(key, suggestion):
    """A misspelt key is refused with a did-you-mean."""
    with pytest.raises(ParamsError, match=f"did you mean {suggestion}"):
        parse_params(with_value(key, 1))


def test_missing_required_key():
    """A run without a dataset is refused."""
    params = copy.deepcopy(BASE)
    del params["direct"]["vgg16"]["dataset"]
    with pytest.raises(ParamsError, match="direct.vgg16.dataset is missing"):
        parse_params(params)


def test_check_params_command_writes_nothing_on_error(tmp_path):
    """`seenn check-params` exits 2 with one line and leaves its output file as it was."""
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(with_value("alpha", 2)))
    out = tmp_path / "ok.txt"
    out.write_text("previous\n")
    result = CliRunner().invoke(app, ["check-params", "--params", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line] == [
        "error: params: alpha = 2.0 is not allowed: a value in (0, 1)"
    ]
    assert out.read_text() == "previous\n"


# -- architecture options and the `released` section ----------------------------------------------------
RELEASED_RUN = {
    "layout": "qcfs_resnet18",
    "file": "checkpoints/r18.pth",
    "dataset": "cifar10",
    "model": "resnet18",
    "T": 8,
    "shortcut": "conv",
}


def with_released(**changes) -> dict:
    params = copy.deepcopy(BASE)
    params["released"] = {"r18-released": {**RELEASED_RUN, **changes}}
    return params


def test_released_section_parses_with_defaults():
    """`released` is empty by default; an entry keeps its options and fills width 1 and the defaults."""
    assert parse_params(BASE).released == {}
    run = parse_params(with_released()).released["r18-released"]
    assert (run.layout, run.model, run.width, run.T, run.shortcut, run.stem) == (
        "qcfs_resnet18",
        "resnet18",
        1.0,
        8,
        "conv",
        "auto",
    )


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"layout": "qcfs_resnet50"}, "layout = 'qcfs_resnet50' is not allowed: one of qcfs_vgg16"),
        ({"file": " "}, "released.r18-released.file = ' ' is not allowed"),
        ({"dataset": "cifar10_dvs"}, "released.r18-released.dataset = 'cifar10_dvs'"),
        ({"model": "resnet99"}, "released.r18-released.model = 'resnet99'"),
        ({"T": 0}, "released.r18-released.T = 0"),
        ({"vgg_head": "fc3"}, "released.r18-released.vgg_head = 'fc3' is not allowed: gap: only vgg16"),
        ({"stem_pool": "max"}, "released.r18-released.stem_pool = 'max' is not allowed: auto: only an"),
        ({"epochs": 3}, "unknown key 'released.r18-released.epochs'"),
    ],
)
def test_released_rules_reject_a_wrong_value(changes, needle):
    with pytest.raises(ParamsError) as err:
        parse_params(with_released(**changes))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_released_entry_needs_layout_and_file():
    params = with_released()
    del params["released"]["r18-released"]["file"]
    with pytest.raises(ParamsError, match="released.r18-released.file is missing"):
        parse_params(params)


def test_released_run_name_must_not_clash_with_a_run_folder():
    """runs/<name> is one folder: a released run cannot reuse a conversion or direct run's name (or a
    conversion's `<name>-ann`)."""
    for name in ("r19", "r18-qcfs", "r18-qcfs-ann"):
        params = copy.deepcopy(BASE)
        params["released"] = {name: RELEASED_RUN}
        with pytest.raises(ParamsError, match=f"released.{name} = '{name}' is not allowed"):
            parse_params(params)


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("direct.vgg16.shortcut", "conv", "direct.vgg16.shortcut = 'conv' is not allowed: avgpool: only"),
        ("direct.r19.shortcut", "pool", "direct.r19.shortcut = 'pool' is not allowed: one of avgpool, conv"),
        ("direct.vgg16.stem", "cifar", "direct.vgg16.stem = 'cifar' is not allowed: auto: only the ResNets"),
        (
            "direct.r19.stem_pool",
            "max",
            "direct.r19.stem_pool = 'max' is not allowed: auto: only an ImageNet",
        ),
        ("direct.vggsnn-dvs.vgg_head", "fc3", "direct.vggsnn-dvs.vgg_head = 'fc3' is not allowed: gap"),
        ("conversion.r18-qcfs.stem", "big", "conversion.r18-qcfs.stem = 'big' is not allowed: one of auto"),
    ],
)
def test_architecture_options_apply_only_to_their_models(key, value, needle):
    with pytest.raises(ParamsError) as err:
        parse_params(with_value(key, value))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_architecture_options_default_to_todays_models():
    """Every run of the committed params keeps avgpool shortcuts, its own stem, the model's own stem pooling
    (auto) and the global-pooling VGG head; an ImageNet-stem model may max-pool, a ResNet may take the CIFAR
    stem."""
    p = parse_params(BASE)
    for run in [*p.conversion.values(), *p.direct.values()]:
        assert (run.shortcut, run.stem, run.stem_pool, run.vgg_head) == ("avgpool", "auto", "auto", "gap")
    params = with_value("direct.r19.model", "sew_resnet34")
    params["direct"]["r19"]["stem_pool"] = "max"
    assert parse_params(params).direct["r19"].stem_pool == "max"
    params = with_value("direct.r19.stem", "imagenet")
    params["direct"]["r19"]["stem_pool"] = "max"
    assert parse_params(params).direct["r19"].stem == "imagenet"


@pytest.mark.parametrize("profile", sorted(p.name for p in (ROOT / "profiles").glob("*.yaml")))
def test_each_profile_is_valid_and_defines_what_dvc_yaml_loops_over(profile):
    """A profile replaces params.yaml whole, so it must pass the schema and hold every top-level key that a
    `foreach: ${key}` in dvc.yaml reads (DVC cannot parse the file otherwise, before any stage runs)."""
    import re

    params = yaml.safe_load((ROOT / "profiles" / profile).read_text())
    parse_params(params)
    # `foreach: ${key}` and a matrix's `name: ${key}` lines
    looped = set(re.findall(r"^\s+\w+:\s*\$\{(\w+)\}\s*$", (ROOT / "dvc.yaml").read_text(), re.MULTILINE))
    assert looped and looped <= set(params), f"{profile} lacks {sorted(looped - set(params))}"


def test_ema_and_best_holdout_selection_exclude_each_other():
    params = with_value("direct.r19.ema", 0.99)
    params["direct"]["r19"]["select"] = "best_holdout"
    with pytest.raises(ParamsError) as err:
        parse_params(params)
    assert "direct.r19.ema = 0.99 is not allowed: 0 when select is best_holdout" in str(err.value)


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"curriculum_T": 1}, "direct.r19.curriculum_T = 1 is not allowed: 0 while curriculum_epochs is 0"),
        ({"curriculum_epochs": 1}, "direct.r19.curriculum_T = 0 is not allowed: 1 to T - 1 = 3"),
        (
            {"curriculum_epochs": 1, "curriculum_T": 4},
            "direct.r19.curriculum_T = 4 is not allowed: 1 to T - 1",
        ),
        (
            {"curriculum_epochs": 3, "curriculum_T": 1},
            "curriculum_epochs = 3 is not allowed: fewer than epochs = 3",
        ),
        ({"curriculum_epochs": -1}, "direct.r19.curriculum_epochs = -1"),
    ],
)
def test_a_timestep_curriculum_needs_fewer_steps_and_epochs_than_the_run(changes, needle):
    """Both keys or neither; the short T is below T and its epochs leave at least one epoch at T."""
    params = copy.deepcopy(BASE)
    params["direct"]["r19"].update(T=4, epochs=3, **changes)
    with pytest.raises(ParamsError) as err:
        parse_params(params)
    assert needle in str(err.value) and "\n" not in str(err.value)
    params["direct"]["r19"].update(curriculum_T=2, curriculum_epochs=2)
    run = parse_params(params).direct["r19"]
    assert (run.curriculum_T, run.curriculum_epochs, run.epochs) == (2, 2, 3)
