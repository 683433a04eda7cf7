"""The link worker's heap: glibc's allocator told to give large blocks back to the system.

glibc serves a block above its mmap threshold (128 kB at first) with its own mapping, returned
when freed. But each time such a block is freed, it raises the threshold to that block's size,
up to 32 MB: after the band index's first merges, its arrays of several MB come from the heap,
and the heap keeps what they leave behind (freed, not returned). Fixing the threshold keeps
every block above it mapped and returned: the RSS follows what the linker holds, not its peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h); setting it fixes the threshold
MMAP_THRESHOLD_BYTES = 2**20  # numpy arrays of the band index and candidate batches are larger


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold for this process; False where there is no glibc (musl, macOS:
    their allocators return large blocks on their own, or not at all)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
