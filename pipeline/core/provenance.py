"""What every run folder records about how it was made: the resolved params, seed, device, git commit,
Python, platform and package versions (`provenance.json`)."""

import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("torch", "torchvision", "numpy", "dvc", "scikit-learn", "pandas")


def provenance(params_section: Any, seed: int, device: str) -> dict:
    """Resolved params of a run plus seed, device, git commit and package versions."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "params": params_section,
        "seed": seed,
        "device": device,
        "git_commit": commit or None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
    }
