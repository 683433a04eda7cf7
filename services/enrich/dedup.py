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
import itertools
import operator
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
_WORD_NO_UNDERSCORE = re.compile(r"\w+")  # the same words in a text without "_", faster
_SENTENCE_END = re.compile(r"(?<=[.!?\u061f])\s+|\n+")
# The sentence sketch's hash functions: fixed (stored sketches must stay comparable).
_MIX = np.random.default_rng(3).integers(0, 2**63, size=(2, SENTENCE_HASHES), dtype=np.uint64)
_MASKS, _ODD = _MIX[0], _MIX[1] | np.uint64(1)
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


def sentences(body: str, folded: str | None = None) -> list[list[str]]:
    """The words of each sentence of the folded body (every word exactly once); `folded`: the
    body already folded."""
    text = folded or fold(body)
    words = _WORD if "_" in text else _WORD_NO_UNDERSCORE
    return [words.findall(part) for part in _SENTENCE_END.split(text)]


def shingles(body: str, split: list[list[str]] | None = None) -> list[bytes]:
    words = [w for sentence in (split if split is not None else sentences(body)) for w in sentence]
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else []
    return list(dict.fromkeys(grams(words, SHINGLE_WORDS)))


def grams(words: list[str], n: int) -> list[bytes]:
    """Every run of `n` words, joined by a space, UTF-8: cut from the words joined and encoded
    once, at byte offsets summed from the words' lengths (every step a C loop)."""
    encoded = list(map(str.encode, words))
    lengths = list(map(len, encoded))
    starts = list(itertools.accumulate(map(operator.add, lengths, _ONES), initial=0))
    ends = list(map(operator.add, starts, lengths))  # each word's end (before its space)
    joined = b" ".join(encoded)
    count = max(0, len(words) - n + 1)
    return list(map(joined.__getitem__, map(slice, starts[:count], ends[n - 1 :])))


_ONES = itertools.repeat(1)


def sentence_sketch(body: str, split: list[list[str]] | None = None) -> list[int]:
    """SENTENCE_HASHES min-hashes per sentence of SENTENCE_MIN_WORDS words or more, flat, in the
    order of the text (the first SENTENCES_KEPT sentences). Each shingle is hashed once (xxh64);
    the SENTENCE_HASHES hash functions mix that value with fixed masks and odd multipliers, and
    the minima per sentence are taken in numpy."""
    kept = [
        words
        for words in (split if split is not None else sentences(body))
        if len(words) >= SENTENCE_MIN_WORDS
    ][:SENTENCES_KEPT]
    if not kept:
        return []
    cut: list[bytes] = []
    starts = []
    for words in kept:
        starts.append(len(cut))
        cut.extend(grams(words, SENTENCE_GRAM))
    hashed = np.fromiter(map(xxhash.xxh64_intdigest, cut), np.uint64, len(cut))
    mixed = ((hashed[None, :] ^ _MASKS[:, None]) * _ODD[:, None]) >> np.uint64(32)
    minima = np.minimum.reduceat(mixed, starts, axis=1)  # SENTENCE_HASHES x sentences
    return [int(v) for v in minima.T.astype(np.uint32).ravel()]


def fingerprint(body: str, folded: str | None = None) -> tuple[list[int], int, list[int]]:
    """(MinHash signature, distinct shingles, sentence sketch), the body folded and split once
    (`folded`: already folded)."""
    split = sentences(body, folded)
    sig, n = signature(body, split)
    return sig, n, sentence_sketch(body, split)


def signature(body: str, split: list[list[str]] | None = None) -> tuple[list[int], int]:
    """(MinHash signature, number of distinct shingles): the size lets link.py estimate
    containment. `split`: the body's sentences() when already computed."""
    grams = shingles(body, split)
    mh = MinHash(
        num_perm=NUM_PERM,
        seed=1,
        permutations=_TEMPLATE.permutations,
        scheme=_SCHEME,
        hashfunc=xxhash.xxh32_intdigest,
    )  # stable across processes, 3x cheaper than sha1
    mh.update_batch(grams)
    return [int(v) for v in mh.hashvalues.astype(np.uint32)], len(grams)
