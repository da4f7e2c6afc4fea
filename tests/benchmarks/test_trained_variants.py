"""The training benchmarks pin the CPU as `seenn` does, from the params, or with the thread count given
on the command line (a smoke test beside another on 2 cores asks for one)."""

import argparse
import os

import pytest
import yaml

from benchmarks.trained_variants import at_least_one, pin_cpu_with_threads
from pipeline.core.cpu import THREAD_ENV

ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "NPY_DISABLE_CPU_FEATURES")


@pytest.fixture()
def params_file(tmp_path, monkeypatch):
    for name in (*THREAD_ENV, *ISA_VARIABLES):
        monkeypatch.setenv(name, "unset")  # restored after the test
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"cpu": {"isa": "avx2", "threads": 3}}))
    return path


def test_the_params_threads_and_isa_are_pinned(params_file):
    pin_cpu_with_threads(params_file)
    assert [os.environ[name] for name in THREAD_ENV] == ["3"] * len(THREAD_ENV)
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2" and os.environ["MKL_CBWR"] == "AVX2"


def test_given_threads_replace_the_params_and_keep_the_isa(params_file):
    pin_cpu_with_threads(params_file, threads=1)
    assert [os.environ[name] for name in THREAD_ENV] == ["1"] * len(THREAD_ENV)
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def test_threads_below_one_are_refused():
    assert at_least_one("2") == 2
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 1, got 0"):
        at_least_one("0")
