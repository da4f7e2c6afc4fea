"""Shared test settings: tiny models run fastest, and most predictably, on one CPU thread; everything under
`tests/e2e/` (real `dvc repro` runs in sandboxes) is marked `slow`, and modules with slow tests run first."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.slow)
    # Modules with a slow test go first, each whole (a module's sandbox stays on one worker): with
    # `--no-loadscope-reorder` the workers take the long modules first and the many short ones even out the
    # end, instead of two long sandboxes starting last on one worker.
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)
