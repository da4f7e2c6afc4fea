"""The cache never lies: every project file a stage can run is among that stage's `deps` in dvc.yaml.

For each stage, the stage's command module is imported in a fresh Python process (as `seenn <command>`
does), and every project file then in `sys.modules` must lie inside a declared dep. Imports inside
functions (lazy imports, which a plain import does not trigger) are followed too, by reading the import
statements of every loaded project file, transitively. A docstring-only `__init__.py` cannot change a
result and is exempt.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.sandbox import ROOT

CODE_ROOTS = ("pipeline", "stages")
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_command(stage: str) -> tuple[str, list[str]]:
    """The `seenn` subcommand a stage runs and its declared deps (templated paths kept as written)."""
    body = DVC[stage].get("do", DVC[stage])
    words = body["cmd"].split()
    command = words[words.index("seenn") + 1] if "seenn" in words else words[1]
    return command, list(body.get("deps", []))


def loaded_project_files(module: str) -> set[Path]:
    """Project files in `sys.modules` after importing the CLI and `module` in a fresh interpreter."""
    code = (
        "import importlib, json, sys; import stages.cli; importlib.import_module(sys.argv[1]); "
        "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, module], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    files = {Path(f).resolve() for f in json.loads(out) if f}
    return {
        f.relative_to(ROOT)
        for f in files
        if f.is_relative_to(ROOT) and f.parts[len(ROOT.parts)] in CODE_ROOTS
    }


def module_file(name: str) -> Path | None:
    """`pipeline.a.b` -> `pipeline/a/b.py` or `pipeline/a/b/__init__.py`, if it is a project module."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT)
    return None


def imported_modules(path: Path) -> set[str]:
    """Every `pipeline.*` / `stages.*` module a file imports anywhere (module level or inside functions),
    with the packages that importing it runs."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from pkg import module`
    out = set()
    for name in names:
        parts = name.split(".")
        if parts[0] in CODE_ROOTS:
            out |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return out


def static_closure(files: set[Path]) -> set[Path]:
    """`files` plus every project file their import statements reach, transitively."""
    seen, todo = set(), list(files)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += [f for f in map(module_file, imported_modules(path)) if f is not None]
    return seen


def docstring_only(path: Path) -> bool:
    body = ast.parse((ROOT / path).read_text()).body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def undeclared(files: set[Path], deps: list[str]) -> list[str]:
    """The files that lie in no declared dep (a file, or a folder holding it)."""
    declared = [Path(d) for d in deps if "${" not in d]
    return sorted(
        f.as_posix()
        for f in files
        if not any(f == d or f.is_relative_to(d) for d in declared)
        and not (f.name == "__init__.py" and docstring_only(f))
    )


def stage_files(stage: str) -> tuple[set[Path], list[str]]:
    from stages.cli import COMMANDS

    command, deps = stage_command(stage)
    module = COMMANDS[command][0]
    loaded = loaded_project_files(module)
    return static_closure(loaded | {module_file(module)}), deps


@pytest.mark.parametrize("stage", sorted(DVC))
def test_every_loaded_project_file_is_a_declared_dep(stage):
    files, deps = stage_files(stage)
    assert files, stage
    missing = undeclared(files, deps)
    assert not missing, f"stage {stage} runs {missing} but dvc.yaml does not list them in its deps"


def test_removing_a_dep_is_caught():
    """The check has teeth: train_snn without `pipeline/snn` in its deps fails it."""
    files, deps = stage_files("train_snn")
    assert not undeclared(files, deps)
    missing = undeclared(files, [d for d in deps if d != "pipeline/snn"])
    assert "pipeline/snn/neurons.py" in missing


def test_lazy_imports_are_followed():
    """An import inside a function (the ImageNet feed, imported only for streamed data) is found."""
    files, _ = stage_files("train_snn")
    assert Path("pipeline/data/imagenet.py") in files


def test_exits_loads_without_torch():
    """`pipeline/exits` is numpy only: importing all of it (and the sweep stage) loads no torch."""
    code = (
        "import sys, pkgutil, importlib, pipeline.exits as e; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(e.__path__, 'pipeline.exits.')]; "
        "import stages.sweep; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
