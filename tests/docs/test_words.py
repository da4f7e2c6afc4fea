"""README.md and docs/ speak of the product only: no paths outside the project, no tooling of the
machines it was built on."""

import re

from tests.sandbox import ROOT

FORBIDDEN = re.compile(r"\.\./shared|device tool|\$OUT|reviewer", re.I)


def files():
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_no_outside_paths_or_tooling_words():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert not hits, "\n".join(hits)


def test_the_pattern_finds_what_it_forbids():
    samples = ("tar -xJf ../shared/x", "the device tool", '"$OUT"', "Reviewers")
    assert all(FORBIDDEN.search(s) for s in samples)
