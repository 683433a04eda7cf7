"""Content hash and MinHash signature of an article (pure), and the MinHash and LSH parameters
(defined here only). The linking of near-duplicates and stories across the archive is in link.py.

Shingles are 5-word windows of the folded body: a changed headline does not touch them; a byline,
footer, small edits or a truncation change a minority of them.

A syndicated copy as outlets really publish it (the agency text cut at another point, re-ordered,
partly rewritten, under the outlet's own lead) can share well under half of its shingles with
the original, yet most of its sentences are still there nearly verbatim. The sentence sketch
keeps, for each sentence, SENTENCE_HASHES min-hashes of its 4-word shingles: two sentences that
agree on at least two of them are the same sentence, lightly edited at most. Measured on the
labelled corpora (tests/data/{real,dedup,heldout,blind2}, 94 duplicate pairs, 5,060 others):
every duplicate pair shares at least 2 sentences and half the sentences of one of the two; no
other pair shares more than 1 sentence or a quarter of either.
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
SENTENCE_HASHES = 4  # min-hashes per sentence (same sentence: at least 2 of them agree)
SENTENCE_GRAM = 4  # words per sentence shingle
SENTENCE_MIN_WORDS = 6  # shorter sentences (datelines, credits, captions) are left out
SENTENCES_KEPT = 48  # sentences sketched per article (~750 bytes stored)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?\u061f])\s+|\n+")
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


def sentence_sketch(body: str) -> list[int]:
    """SENTENCE_HASHES min-hashes per sentence of SENTENCE_MIN_WORDS words or more, flat, in the
    order of the text (the first SENTENCES_KEPT sentences)."""
    out: list[int] = []
    for sentence in _SENTENCE_END.split(body):
        words = _WORD.findall(fold(sentence))
        if len(words) < SENTENCE_MIN_WORDS:
            continue
        grams = [
            " ".join(words[i : i + SENTENCE_GRAM]).encode()
            for i in range(len(words) - SENTENCE_GRAM + 1)
        ]
        out.extend(
            min(xxhash.xxh32_intdigest(g, seed=k) for g in grams) for k in range(SENTENCE_HASHES)
        )
        if len(out) >= SENTENCES_KEPT * SENTENCE_HASHES:
            break
    return out


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
