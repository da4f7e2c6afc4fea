"""The launcher is this machine's setting, not a param: `SEENN_LAUNCHER` or `.seenn/launcher` makes the
`seenn` entry point re-launch a training command under torchrun, once, with the pinned CPU environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.config import ParamsError, parse_params
from pipeline.core.launcher import LauncherError, launcher_words, relaunch_argv
from tests.sandbox import ROOT

SEENN = str(Path(sys.executable).parent / "seenn")
TRAIN = [SEENN, "train-snn", "r19", "--data", "data/digits", "--out", "runs/r19"]


def test_nothing_set_runs_here(tmp_path):
    assert relaunch_argv(TRAIN, {}, tmp_path) is None


def test_the_variable_relaunches_training_commands_under_torchrun(tmp_path):
    env = {"SEENN_LAUNCHER": "torchrun --nproc_per_node 4"}
    assert relaunch_argv(TRAIN, env, tmp_path) == ["torchrun", "--nproc_per_node", "4", "--no-python", *TRAIN]
    for command in ("pretrain-ann", "finetune"):
        assert relaunch_argv([SEENN, command, "x"], env, tmp_path)[-2:] == [command, "x"]
    for command in ("convert", "sweep", "tables", "check-params", "data", "submit"):
        assert relaunch_argv([SEENN, command, "x"], env, tmp_path) is None, command


@pytest.mark.parametrize("child", ["WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SEENN_LAUNCHED"])
def test_a_launched_child_never_relaunches(tmp_path, child):
    env = {"SEENN_LAUNCHER": "torchrun --nproc_per_node 4", child: "1"}
    assert relaunch_argv(TRAIN, env, tmp_path) is None


def test_the_local_file_applies_and_the_variable_overrides_it(tmp_path):
    (tmp_path / ".seenn").mkdir()
    (tmp_path / ".seenn/launcher").write_text("# this machine has 2 GPUs\ntorchrun --nproc_per_node 2\n")
    assert relaunch_argv(TRAIN, {}, tmp_path)[:4] == ["torchrun", "--nproc_per_node", "2", "--no-python"]
    assert relaunch_argv(TRAIN, {"SEENN_LAUNCHER": ""}, tmp_path) is None  # one process, whatever the file
    assert launcher_words({"SEENN_LAUNCHER": "seenn"}, tmp_path) == []


@pytest.mark.parametrize(
    "value,needle",
    [
        ("mpirun -n 4", "a torchrun command line such as 'torchrun --nproc_per_node 4'"),
        ("torchrun --nproc_per_node 4 --no-python seenn", "name the launcher only"),
        ("torchrun 'unclosed", "is not a command line"),
    ],
)
def test_a_wrong_launcher_is_one_line(tmp_path, value, needle):
    with pytest.raises(LauncherError, match=".*") as err:
        relaunch_argv(TRAIN, {"SEENN_LAUNCHER": value}, tmp_path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_an_old_launcher_param_names_the_new_mechanism():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    with pytest.raises(ParamsError) as err:
        parse_params({**params, "launcher": "seenn"})
    message = str(err.value)
    assert "\n" not in message and "SEENN_LAUNCHER" in message and ".seenn/launcher" in message


FAKE_TORCHRUN = """#!{python}
import json, os, sys
names = ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "SEENN_LAUNCHED")
with open(os.environ["FAKE_TORCHRUN_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "env": {{n: os.environ.get(n) for n in names}}}}) + "\\n")
"""


def test_the_entry_point_execs_torchrun_once_with_the_pinned_environment(tmp_path):
    """`seenn train-snn` under SEENN_LAUNCHER becomes torchrun (a stand-in that logs its argv and
    environment) with the CPU pins of params.yaml already set; the child command it is given, run with
    torchrun's variables, does not re-launch."""
    torchrun = tmp_path / "bin/torchrun"
    torchrun.parent.mkdir()
    torchrun.write_text(FAKE_TORCHRUN.format(python=sys.executable))
    torchrun.chmod(0o755)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"cpu": {"isa": "avx2", "threads": 3}}))
    log = tmp_path / "torchrun.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "SEENN_LAUNCHED")}
    env.update(SEENN_LAUNCHER=f"{torchrun} --nproc_per_node 2", FAKE_TORCHRUN_LOG=str(log))
    proc = subprocess.run(TRAIN, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (call,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert call["argv"] == ["--nproc_per_node", "2", "--no-python", *TRAIN]
    assert call["env"] == {
        "OMP_NUM_THREADS": "3",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_CBWR": "AVX2",
        "SEENN_LAUNCHED": "1",
    }
    child = subprocess.run(
        [*call["argv"][3:], "--help"],
        cwd=tmp_path,
        env={**env, "WORLD_SIZE": "2", "RANK": "1"},
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0 and "Train an SNN" in child.stdout, child.stderr
    assert len(log.read_text().splitlines()) == 1  # the child ran here, it did not start torchrun again
    bad = subprocess.run(
        TRAIN, cwd=tmp_path, env={**env, "SEENN_LAUNCHER": "mpirun -n 2"}, capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: SEENN_LAUNCHER = 'mpirun -n 2'"), bad.stderr
