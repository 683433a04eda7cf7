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
other pair shares more than 1 sentence or a quarter of either. The tune parts of the later real
corpora (real-events, real-xlang, real-topics, real-topics2; 2026-12-01) hold a long re-edited
copy sharing 4 sentences, a third of its own, and two different reports sharing 2 sentences
(a quoted statement): 3 shared sentences make a copy whatever their share (link.py).

Containment (the shingles of the shorter article found in the other, estimated from the two
signatures and sizes) catches a copy cut and lightly edited throughout, whose sentences no longer
agree. Measured on every tune part and own corpus (2026-12-01; 115 duplicate pairs, 8,528
others): no pair of different articles reaches 0.25; the re-edited copies of real wire stories
lie from 0.31 up, but for eight agency write-throughs that share one sentence or none (0.19 and
under, out of reach of wording). The threshold is 0.45 (link.py), for the estimate's noise
(about 0.1 at 60 permutations).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import re
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import xxhash

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
# The MinHash signature is datasketch 2.x's MinHash (scheme "affine32", seed 1, xxh32 as the hash
# function), computed here: importing datasketch imports its LSH module and with it scipy, about
# 40 MB of every worker's memory for a few lines of arithmetic. Each shingle's 32-bit hash is
# mixed by MurmurHash3's finalizer, then mapped by NUM_PERM affine permutations a * h + b
# (mod 2^32, `a` odd), and the minimum of each is kept. The permutations are datasketch's, drawn
# from the same seeded generator, so stored signatures stay comparable;
# tests/unit/test_members.py checks the two against each other.
_PERMS = np.random.RandomState(1)
_PERM_A = _PERMS.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
_PERM_B = _PERMS.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
_EMPTY = 0xFFFFFFFF  # the value of every position for a body without shingles
_CHUNK = 8192  # shingles permuted at once: a 4 MB article's ~700k would need 170 MB at once


def check_lsh_split(num_perm: int, bands: int, rows: int) -> None:
    """Refuse an LSH split that does not cover the signature exactly (a raise, not an assert:
    python -O drops asserts)."""
    if bands < 1 or rows < 1 or bands * rows != num_perm:
        raise ValueError(
            f"LSH split {bands} bands x {rows} rows = {bands * rows} values, but a MinHash "
            f"signature has {num_perm} (NUM_PERM): the product must equal it"
        )


check_lsh_split(NUM_PERM, BANDS, ROWS)  # at import: a wrong split never reaches the index


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
    return _shingles(_Joined.of(split if split is not None else sentences(body)))


def _shingles(text: _Joined) -> list[bytes]:
    if text.words < SHINGLE_WORDS:
        return [text.joined] if text.words else []
    return list(dict.fromkeys(text.runs(range(text.words - SHINGLE_WORDS + 1), SHINGLE_WORDS)))


class _Joined(NamedTuple):
    """Sentences' words joined by spaces and encoded once (UTF-8), with each word's byte offsets:
    every run of words is then one slice of the bytes, cut in C loops."""

    joined: bytes
    starts: list[int]  # word i's first byte
    ends: list[int]  # word i's end (before its space)
    bounds: list[int]  # sentence k's words are bounds[k] to bounds[k + 1]
    words: int

    @classmethod
    def of(cls, split: list[list[str]]) -> _Joined:
        encoded = list(map(str.encode, itertools.chain.from_iterable(split)))
        lengths = list(map(len, encoded))
        starts = list(itertools.accumulate(map(operator.add, lengths, _ONES), initial=0))
        ends = list(map(operator.add, starts, lengths))
        bounds = list(itertools.accumulate(map(len, split), initial=0))
        return cls(b" ".join(encoded), starts, ends, bounds, len(encoded))

    def runs(self, firsts: Iterable[int], n: int) -> list[bytes]:
        """The runs of `n` words that start at the word indexes `firsts`, as UTF-8."""
        firsts = list(firsts)
        lasts = map(operator.add, firsts, itertools.repeat(n - 1))
        cuts = map(slice, map(self.starts.__getitem__, firsts), map(self.ends.__getitem__, lasts))
        return list(map(self.joined.__getitem__, cuts))


def grams(words: list[str], n: int) -> list[bytes]:
    """Every run of `n` words, joined by a space, UTF-8."""
    return _Joined.of([words]).runs(range(len(words) - n + 1), n)


_ONES = itertools.repeat(1)


def sentence_sketch(body: str, split: list[list[str]] | None = None) -> list[int]:
    """SENTENCE_HASHES min-hashes per sentence of SENTENCE_MIN_WORDS words or more, flat, in the
    order of the text (the first SENTENCES_KEPT sentences). Each shingle is hashed once (xxh64);
    the SENTENCE_HASHES hash functions mix that value with fixed masks and odd multipliers, and
    the minima per sentence are taken in numpy."""
    return _sentence_sketch(_Joined.of(split if split is not None else sentences(body)))


def _sentence_sketch(text: _Joined) -> list[int]:
    bounds = text.bounds
    kept = [k for k in range(len(bounds) - 1) if bounds[k + 1] - bounds[k] >= SENTENCE_MIN_WORDS][
        :SENTENCES_KEPT
    ]
    if not kept:
        return []
    firsts = [bounds[k] for k in kept]
    stops = [bounds[k + 1] - SENTENCE_GRAM + 1 for k in kept]  # past each sentence's last gram
    cut = text.runs(itertools.chain.from_iterable(map(range, firsts, stops)), SENTENCE_GRAM)
    starts = list(itertools.accumulate(map(operator.sub, stops, firsts), initial=0))[:-1]
    hashed = np.fromiter(map(xxhash.xxh64_intdigest, cut), np.uint64, len(cut))
    mixed = ((hashed[None, :] ^ _MASKS[:, None]) * _ODD[:, None]) >> np.uint64(32)
    minima = np.minimum.reduceat(mixed, starts, axis=1)  # SENTENCE_HASHES x sentences
    return [int(v) for v in minima.T.astype(np.uint32).ravel()]


def fingerprint(body: str, folded: str | None = None) -> tuple[list[int], int, list[int]]:
    """(MinHash signature, distinct shingles, sentence sketch), the body folded and split once
    (`folded`: already folded)."""
    text = _Joined.of(sentences(body, folded))
    sig, n = _signature(_shingles(text))
    return sig, n, _sentence_sketch(text)


def signature(body: str, split: list[list[str]] | None = None) -> tuple[list[int], int]:
    """(MinHash signature, number of distinct shingles): the size lets link.py estimate
    containment. `split`: the body's sentences() when already computed."""
    return _signature(shingles(body, split))


def _signature(grams: list[bytes]) -> tuple[list[int], int]:
    """The MinHash signature of the shingles (see _PERMS above), and how many there are."""
    hashed = np.fromiter(map(xxhash.xxh32_intdigest, grams), np.uint32, len(grams))
    s1, m1, s2, m2 = _FMIX
    hashed ^= hashed >> s1
    hashed *= m1
    hashed ^= hashed >> s2
    hashed *= m2
    hashed ^= hashed >> s1
    sig = np.full(NUM_PERM, _EMPTY, dtype=np.uint32)
    for at in range(0, len(hashed), _CHUNK):
        permuted = hashed[at : at + _CHUNK, None] * _PERM_A + _PERM_B  # wraps: mod 2^32
        np.minimum(sig, permuted.min(axis=0), out=sig)
    return sig.tolist(), len(grams)
