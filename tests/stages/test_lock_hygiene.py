"""Every dvc.lock entry belongs to a stage dvc.yaml defines: the repository's dvc.lock against dvc.yaml with
params.yaml, and each reports/<profile>/dvc.lock against dvc.yaml with that folder's params.yaml (the params
the run used). DVC itself expands foreach and matrix, so the stage names are the ones `dvc repro` writes."""

import shutil
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from tests.sandbox import ROOT

REPORT_LOCKS = sorted(p.relative_to(ROOT) for p in (ROOT / "reports").glob("*/dvc.lock"))


def defined_stages(project: Path) -> set[str]:
    """Stage names DVC resolves from the dvc.yaml in `project` (foreach/matrix expanded from its params)."""
    with Repo(str(project)) as repo:
        return {stage.name for stage in repo.index.stages}


def defined_with_params(params: Path, tmp: Path) -> set[str]:
    """The stages of the repository's dvc.yaml resolved against another params.yaml, in a scratch DVC repo."""
    Repo.init(str(tmp), no_scm=True)
    shutil.copy2(ROOT / "dvc.yaml", tmp / "dvc.yaml")
    shutil.copy2(params, tmp / "params.yaml")
    return defined_stages(tmp)


def locked_stages(lock: Path) -> set[str]:
    return set(yaml.safe_load(lock.read_text())["stages"])


def test_root_lock_has_only_defined_stages():
    stale = locked_stages(ROOT / "dvc.lock") - defined_stages(ROOT)
    assert not stale, f"dvc.lock has entries for stages dvc.yaml does not define: {sorted(stale)}"


@pytest.mark.skipif(not REPORT_LOCKS, reason="no reports/*/dvc.lock committed")
@pytest.mark.parametrize("lock", REPORT_LOCKS, ids=str)
def test_report_lock_has_only_defined_stages(lock, tmp_path):
    params = ROOT / lock.parent / "params.yaml"
    assert params.is_file(), f"{lock} has no params.yaml beside it"
    stale = locked_stages(ROOT / lock) - defined_with_params(params, tmp_path)
    assert not stale, f"{lock} has entries for stages dvc.yaml does not define: {sorted(stale)}"


def test_a_stale_entry_is_found(tmp_path):
    """The check can fail: a lock entry for a stage name dvc.yaml cannot produce is reported."""
    defined = defined_stages(ROOT)
    lock = {"schema": "2.0", "stages": {name: {"cmd": "seenn"} for name in sorted(defined)}}
    lock["stages"]["train_snn@no-such-run"] = {"cmd": "seenn train-snn no-such-run"}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert locked_stages(tmp_path / "dvc.lock") - defined == {"train_snn@no-such-run"}
