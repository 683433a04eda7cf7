"""Content hash and MinHash signature of an article (pure). The linking of near-duplicates and
stories across the archive is in link.py.

Shingles are 5-word windows of the folded body: a changed headline does not touch them; a byline,
footer, small edits or a truncation change a minority of them.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import xxhash
from datasketch import MinHash

from newspipe.text import fold

NUM_PERM = 60  # 20 LSH bands x 3 rows (link.py)
SHINGLE_WORDS = 5
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Permutations are drawn once per process (datasketch regenerates them per MinHash otherwise).
_SCHEME = "affine32"  # datasketch 2.x default; pinned so stored signatures stay comparable
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1, scheme=_SCHEME)


def content_hash(body: str) -> str:
    """SHA-256 of the body exactly as written (the id is the hash of the normalised body)."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def shingles(body: str) -> list[bytes]:
    words = _WORD.findall(fold(body))
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else []
    return list(
        dict.fromkeys(
            " ".join(words[i : i + SHINGLE_WORDS]).encode()
            for i in range(len(words) - SHINGLE_WORDS + 1)
        )
    )


def signature(body: str) -> tuple[list[int], int]:
    """(MinHash signature, number of distinct shingles): the size lets link.py estimate
    containment."""
    grams = shingles(body)
    mh = MinHash(
        num_perm=NUM_PERM,
        seed=1,
        permutations=_TEMPLATE.permutations,
        scheme=_SCHEME,
        hashfunc=xxhash.xxh32_intdigest,
    )  # stable across processes, 3x cheaper than sha1
    mh.update_batch(grams)
    return [int(v) for v in mh.hashvalues.astype(np.uint32)], len(grams)
