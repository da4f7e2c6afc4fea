"""pipeline/core/memory.py: with freed memory kept, a freed 64 MiB block stays in the process and the next
one of the same size touches no new page; the default allocator unmaps it and faults it in again. The
same training steps give the same bytes either way. Each case runs in a fresh process (the setting
holds for a whole process)."""

import json
import subprocess
import sys

import pytest

from pipeline.core.memory import _glibc
from tests.sandbox import ROOT

pytestmark = pytest.mark.skipif(_glibc() is None, reason="the allocator setting needs glibc (Linux)")

# Allocate and touch 64 MiB, free it, allocate and touch it again: the resident memory the free gave
# back and the minor page faults of the second allocation (a 4 KiB page each).
REUSE = """
import json, os, resource, sys
import numpy as np
from pipeline.core.memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "kept" else False
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
a = np.ones(16 * 2**20, dtype=np.float32)
before = rss(); del a; returned = before - rss()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(16 * 2**20, dtype=np.float32)
print(json.dumps({"kept": kept, "returned": returned,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}))
"""

# Five TET training steps of a small LIF FastVGG; its activation maps ([T * N, 16, 32, 32] float32,
# 2 MiB) lie above glibc's initial mmap threshold, so the two allocators place them differently.
TRAIN = """
import hashlib, sys
import torch
from pipeline.core.memory import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
torch.set_num_threads(1)
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.training.losses import tet_loss
torch.manual_seed(0)
model = build_model("fastvgg", 10, 3, 32, lif_factory("triangle", 0.5), 0.25)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x, y = torch.rand(2, 16, 3, 32, 32), torch.randint(0, 10, (16,))
for _ in range(5):
    loss = tet_loss(model(x), y, 0.001)
    opt.zero_grad(); loss.backward(); opt.step()
digest = hashlib.sha256()
for value in model.state_dict().values():
    digest.update(value.contiguous().numpy().tobytes())
print(digest.hexdigest())
"""


def _run(script: str, allocator: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script, allocator], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_freed_memory_is_kept_and_reused():
    default, kept = (json.loads(_run(REUSE, a)) for a in ("default", "kept"))
    block = 64 * 2**20
    assert kept["kept"] and not default["kept"]
    # default: the block goes back to the kernel and is faulted in again (16,384 faults of 4 KiB pages;
    # fewer where the kernel maps larger folios, at least 32 of 2 MiB)
    assert default["returned"] > 0.9 * block and default["faults"] >= 32
    # kept: it stays resident and the second block reuses it
    assert kept["returned"] < 0.1 * block and kept["faults"] * 8 < default["faults"]


def test_training_bytes_do_not_depend_on_the_allocator():
    assert _run(TRAIN, "default") == _run(TRAIN, "kept")
