"""The manual builds: `mkdocs build --strict` (every page in the nav, no broken link or anchor), with the
command-line reference listing every `seenn` command and the API pages rendered."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox import ROOT

MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [str(MKDOCS), "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": f"{MKDOCS.parent}:/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


def test_every_page_is_built(site):
    pages = sorted(p.relative_to(ROOT / "docs").with_suffix("") for p in (ROOT / "docs").rglob("*.md"))
    for page in pages:
        html = site / ("index.html" if page.name == "index" else page / "index.html")
        assert html.is_file(), page


def test_the_cli_reference_lists_every_command(site):
    from stages.cli import COMMANDS

    html = (site / "cli" / "index.html").read_text()
    for name in COMMANDS:
        assert f"seenn {name}" in html, name


def test_the_api_pages_render_the_exit_rules(site):
    html = (site / "api" / "exits" / "index.html").read_text()
    assert "seenn1_exit" in html and "aet" in html
