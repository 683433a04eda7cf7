"""glibc's mmap threshold, fixed by the link worker (services/enrich/heap.py): freed arrays of a
few MB go back to the system instead of staying in the heap. Each case in its own interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from services.enrich.heap import return_large_blocks

    if sys.argv[1] == "fixed":
        assert return_large_blocks()

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

    big = np.ones(30 * 2**20 // 8)  # freed: glibc now serves blocks under 30 MB from its heap
    del big
    before = rss_mb()
    arrays = [np.ones(4 * 2**20 // 8) for _ in range(50)]  # 200 MB in 4 MB blocks
    del arrays[:-1]  # all freed but the newest
    print(round(rss_mb() - before))
    """
)


def _held_after_free(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_blocks_of_a_few_mb_go_back_once_the_threshold_is_fixed() -> None:
    assert _held_after_free("dynamic") >= 150  # glibc's default keeps them in its heap
    assert _held_after_free("fixed") <= 20  # returned: only the array still held
