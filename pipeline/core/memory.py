"""Large tensors without page faults: glibc's allocator keeps freed memory for the next allocation.

By default glibc serves every allocation above its mmap threshold (which adapts, up to 32 MiB) with a
fresh `mmap` and returns it to the kernel on `free`. A training step allocates and frees its largest
activation maps and their gradients every time (a TET step of FastVGG x0.25 at T = 4 and batch 128 merges
time into the batch: `[512, 32, 32, 32]` float32 maps of 64 MiB), so every step page-faults them in again
and the kernel zeroes each 4 KiB page first. Measured on a 2-core CPU, that was ~30 % of a TET step.

`keep_freed_memory` turns `mmap` off for allocations (`M_MMAP_MAX = 0`: they all come from the heap) and
stops returning the top of the heap to the kernel below 2 GiB of free memory (`M_TRIM_THRESHOLD`), so
freed blocks are reused and a step touches no new page once the first one has run. The process keeps its
peak memory instead of giving it back between steps. The numbers do not change: torch aligns every
tensor to 64 bytes either way, and the kernels read the same values (tests/core/test_memory.py trains the
same steps both ways and compares the bytes). `seenn` sets it for every command; measured in
`benchmarks/allocator_speed.py`.
"""

import ctypes
import ctypes.util

# glibc's mallopt(3) parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
KEEP_BELOW = 2**31 - 1  # bytes of free memory at the top of the heap kept rather than trimmed (an int)


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has `mallopt` and `gnu_get_libc_version`), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version")):
        return None  # macOS, musl: their allocators need no such setting, or offer none
    return libc


def keep_freed_memory() -> bool:
    """Keep freed memory in this process for reuse (see the module docstring); return whether the C
    library took the setting (False off glibc, where nothing is changed)."""
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 on error
    return libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, KEEP_BELOW) == 1
