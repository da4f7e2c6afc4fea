"""The machine a benchmark ran on, as every committed result under reports/benchmarks records it."""

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def describe(packages: tuple[str, ...] = ("torch",), threads: int | None = None) -> dict:
    """CPU model, core count, Python, platform and the versions of `packages` (None where absent);
    `threads`: the intra-op threads the benchmark used, when it chose them."""
    cpu = platform.processor()
    if Path("/proc/cpuinfo").is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    versions = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    described = {"cpu": cpu, "cores": os.cpu_count()}
    if threads is not None:
        described["threads"] = threads
    return {
        **described,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }
