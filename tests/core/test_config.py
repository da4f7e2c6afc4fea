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
        ("sweep.alphas", [], "sweep.alphas = []"),
        ("sweep.accumulate", "max", "sweep.accumulate = 'max'"),
        ("tables.timesteps", [0], "tables.timesteps[0] = 0"),
        ("tables.alphas", [0.42], "tables.alphas[0] = 0.42 is not allowed: a value of sweep.alphas"),
    ],
)
def test_each_rule_rejects_a_wrong_value(key, value, needle):
    """A wrong type, range or choice names the key, the value and what is allowed, in one line."""
    with pytest.raises(ParamsError) as err:
        parse_params(with_value(key, value))
    message = str(err.value)
    assert needle in message and "\n" not in message


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
