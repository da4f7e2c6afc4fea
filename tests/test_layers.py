"""The library's layers: a package imports only from itself and from the packages below it.

core < exits < data < snn < training < seenn2 < hardware < report < docs < interop < cluster
(README, "How the project is laid out").
`exits` is numpy only, so the sweep and the reports never load torch (tests/stages/test_stage_deps.py).
`interop` (foreign networks) reads the reports' code for `seenn evaluate`; its evaluation loads no torch.
"""

import ast
from pathlib import Path

import pytest

from tests.sandbox import ROOT

LAYERS = (
    "core", "exits", "data", "snn", "training", "seenn2", "hardware", "report", "docs", "interop", "cluster"
)


def library_files() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / "pipeline").rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """The `pipeline.<package>` names a file imports, anywhere in it (lazy imports included)."""
    out = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        out |= {n.split(".")[1] for n in names if n.startswith("pipeline.")}
    return out


def test_every_library_module_sits_in_a_layer():
    for path in library_files():
        assert len(path.parts) == 2 or path.parts[1] in LAYERS, path


@pytest.mark.parametrize("path", [p for p in library_files() if len(p.parts) > 2], ids=str)
def test_imports_run_downward(path):
    own = LAYERS.index(path.parts[1])
    upward = {p for p in imported_packages(path) if LAYERS.index(p) > own}
    assert not upward, f"{path} imports from the higher layer(s) {sorted(upward)}"


def test_exits_imports_no_torch():
    for path in (ROOT / "pipeline" / "exits").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] == "torch"], path


def test_evaluating_saved_outputs_imports_no_torch():
    """`seenn evaluate` reads .npz files: its modules load numpy, pandas and matplotlib, never torch."""
    import subprocess
    import sys

    code = "import sys, stages.evaluate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
