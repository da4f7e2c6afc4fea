"""Shared test settings: tiny models run fastest, and most predictably, on one CPU thread; everything under
`tests/e2e/` (real `dvc repro` runs in sandboxes) is marked `slow`."""

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
