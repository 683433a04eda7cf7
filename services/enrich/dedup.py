"""Content hash and MinHash signature of an article (pure), and the MinHash and LSH parameters
(defined here only). The linking of near-duplicates and stories across the archive is in link.py.

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

NUM_PERM = 60  # signature length: changing it (or BANDS, ROWS) makes stored signatures useless
BANDS, ROWS = 20, 3  # LSH split of a signature: P(candidate | Jaccard 0.5) = 0.93, | 0.2 = 0.15
SHINGLE_WORDS = 5
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Permutations are drawn once per process (datasketch regenerates them per MinHash otherwise).
_SCHEME = "affine32"  # datasketch 2.x default; pinned so stored signatures stay comparable


def check_lsh_split(num_perm: int, bands: int, rows: int) -> None:
    """Refuse an LSH split that does not cover the signature exactly (a raise, not an assert:
    python -O drops asserts)."""
    if bands < 1 or rows < 1 or bands * rows != num_perm:
        raise ValueError(
            f"LSH split {bands} bands x {rows} rows = {bands * rows} values, but a MinHash "
            f"signature has {num_perm} (NUM_PERM): the product must equal it"
        )


check_lsh_split(NUM_PERM, BANDS, ROWS)  # at import: a wrong split never reaches the index
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
