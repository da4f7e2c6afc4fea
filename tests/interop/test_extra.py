"""The `interop` extra: its pins are what is installed, the test extra carries them, and installing them left
the pipeline's torch at its upper pin (spikingjelly releases after the pinned one pull a torchaudio built
for an older torch)."""

import importlib
import re
import tomllib
from importlib.metadata import version

import pytest

from tests.sandbox import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(requirements: list[str]) -> dict[str, str]:
    """`name==version` requirements -> {name: version}."""
    return dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==([^,;\s]+)", r).groups() for r in requirements if "==" in r)


def test_torch_is_still_the_pinned_upper_version():
    torch_req = next(r for r in PROJECT["dependencies"] if re.match(r"torch\b", r) and "vision" not in r)
    upper = re.search(r"<=\s*([0-9.]+)", torch_req).group(1)
    assert version("torch").split("+")[0] == upper


def test_the_extra_pins_are_installed_and_in_the_test_extra():
    interop = pins(PROJECT["optional-dependencies"]["interop"])
    assert set(interop) == {"spikingjelly", "snntorch"}
    assert pins(PROJECT["optional-dependencies"]["test"]).items() >= interop.items()
    for name, pinned in interop.items():
        assert version(name) == pinned, name


@pytest.mark.parametrize(
    "module",
    [
        "spikingjelly.activation_based.neuron",
        "spikingjelly.activation_based.functional",
        "spikingjelly.activation_based.layer",
        "snntorch",
        "snntorch.utils",
    ],
)
def test_what_the_adapters_use_loads(module):
    importlib.import_module(module)
