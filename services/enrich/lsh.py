"""MinHash signatures as the link stage stores and compares them, and a compact LSH band index.

A signature is stored as text (base64 of its uint32 values). The band index maps band key ->
member ordinals, held as sorted numpy arrays plus a small dict of recent additions merged in
batches (an LSM tree in miniature). About 12 bytes per band entry, against ~100 for a dict of
lists: 100,000 articles x 20 bands fit in ~25 MB. The split of a signature into BANDS x ROWS is
defined (and checked) with the signature length in dedup.py."""

from __future__ import annotations

import base64
from functools import lru_cache

import numpy as np
import xxhash

from services.enrich.dedup import BANDS, ROWS, SENTENCE_HASHES

SENTENCE_KEYS = 12  # sentences per article filed in the index (4 keys each): the first ones
_SENTENCE_SEED = 1_000_003  # keeps sentence keys apart from band keys (seeded 0..BANDS-1)

MERGE_AT = 100_000  # buffered entries before a merge: ~5,000 articles at 20 bands


def pack_sig(sig: list[int]) -> str:
    """A signature as table-friendly text: base64 of its uint32 values (320 chars for 60)."""
    return base64.b64encode(np.asarray(sig, dtype=np.uint32).tobytes()).decode("ascii")


@lru_cache(maxsize=8192)
def unpack(packed: str) -> np.ndarray:
    """A packed signature or sketch as its (read-only) uint32 values, decoded once while hot: the
    article being linked is compared with every candidate, and window members again and again."""
    return np.frombuffer(base64.b64decode(packed), dtype=np.uint32)


def jaccard(a: str, b: str) -> float:
    """The Jaccard similarity of two articles' shingles, estimated from their packed signatures."""
    return float(jaccards(a, [b])[0])


def jaccards(a: str, others: list[str]) -> np.ndarray:
    """jaccard(a, b) for every b of `others` at once (one comparison of arrays)."""
    x = unpack(a)
    if not others:
        return np.zeros(0)
    ys = np.stack([unpack(b) for b in others])
    same: np.ndarray = np.count_nonzero(ys == x, axis=1)
    return same / max(1, len(x))


def sentence_overlaps(a: str, others: list[str]) -> list[tuple[int, float]]:
    """(sentences shared, the larger share of either article's sentences) of the packed sentence
    sketch `a` (dedup.sentence_sketch) with each of `others`: a sentence is shared when at least
    two of its min-hashes appear among the other article's, hash by hash. In one pass over
    arrays: every sentence hash of the others is looked up among the article's (sorted, each
    tagged with its hash function), and the matches mark, per other article, which of its
    sentences and which of the article's sentences agree on that hash function."""
    x = unpack(a).reshape(-1, SENTENCE_HASHES)
    flat = [unpack(b) for b in others]
    sizes = np.array([len(f) for f in flat], dtype=np.int64) // SENTENCE_HASHES
    if not len(x) or not sizes.sum():
        return [(0, 0.0)] * len(others)
    y = np.concatenate(flat).reshape(-1, SENTENCE_HASHES)
    owner = np.repeat(np.arange(len(flat)), sizes)
    # Hash k's values tagged with k (k in the high bits): all four looked up in one search.
    tag = np.arange(SENTENCE_HASHES, dtype=np.uint64) << np.uint64(32)
    xs = (x.astype(np.uint64) | tag).ravel()
    order = np.argsort(xs, kind="stable")
    col = xs[order]
    ys = (y.astype(np.uint64) | tag).ravel()
    lo = np.searchsorted(col, ys, side="left")
    n = np.searchsorted(col, ys, side="right") - lo
    y_hit = (n > 0).reshape(y.shape)  # other sentence j agrees with some x on hash k
    x_hit = np.zeros((len(flat), len(x), SENTENCE_HASHES), dtype=np.int8)  # per other article
    hits = np.flatnonzero(n)
    if len(hits):
        counts = n[hits]
        first = np.repeat(lo[hits] - np.cumsum(counts) + counts, counts)
        x_flat = order[first + np.arange(counts.sum())]  # x row * SENTENCE_HASHES + k
        x_hit[
            np.repeat(owner[hits // SENTENCE_HASHES], counts),
            x_flat // SENTENCE_HASHES,
            x_flat % SENTENCE_HASHES,
        ] = 1
    ny = np.bincount(owner, weights=y_hit.sum(axis=1) >= 2, minlength=len(flat))
    nx = np.count_nonzero(x_hit.sum(axis=2) >= 2, axis=1)
    share = np.maximum(nx / len(x), np.divide(ny, sizes, out=np.zeros(len(flat)), where=sizes > 0))
    return list(zip(np.maximum(nx, ny).astype(int).tolist(), share.tolist(), strict=True))


def sentence_keys(packed: str) -> list[int]:
    """Index keys of a packed sentence sketch: every min-hash of its first SENTENCE_KEYS
    sentences (a sentence shared by the rule above agrees on two of them, so a copy that shares
    one of these sentences is always a candidate)."""
    raw = base64.b64decode(packed)[: SENTENCE_KEYS * 4 * SENTENCE_HASHES]
    return [
        xxhash.xxh64_intdigest(raw[i : i + 4], seed=_SENTENCE_SEED + (i // 4) % SENTENCE_HASHES)
        for i in range(0, len(raw), 4)
    ]


def signature_band_keys(packed: str) -> list[int]:
    """The LSH band keys of a packed signature (BANDS bands of ROWS uint32 values)."""
    return band_keys(base64.b64decode(packed), BANDS, 4 * ROWS)


def band_keys(sig: bytes, bands: int, width: int) -> list[int]:
    """One 64-bit key per band of a packed signature; the band number is the hash seed."""
    return [xxhash.xxh64_intdigest(sig[b * width : (b + 1) * width], seed=b) for b in range(bands)]


class BandIndex:
    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.vals = np.empty(0, dtype=np.uint32)
        self.buffer: dict[int, list[int]] = {}
        self.buffered = 0

    def add(self, key: int, ordinal: int) -> None:
        self.add_many([key], ordinal)

    def add_many(self, keys: list[int], ordinal: int) -> None:
        """File `ordinal` under each of `keys`."""
        buffer = self.buffer
        for key in keys:
            if key in buffer:
                buffer[key].append(ordinal)
            else:
                buffer[key] = [ordinal]
        self.buffered += len(keys)
        if self.buffered >= MERGE_AT:
            self.merge()

    def get(self, key: int, newest: int | None = None) -> list[int]:
        """Ordinals filed under `key`, oldest first; only the `newest` ones if given."""
        out = self.buffer.get(key, [])
        if newest is not None and len(out) >= newest:
            return out[-newest:]
        k = np.uint64(key)
        lo = int(np.searchsorted(self.keys, k, side="left"))
        hi = int(np.searchsorted(self.keys, k, side="right"))
        if newest is not None:
            lo = max(lo, hi - (newest - len(out)))
        # A stable sort keeps each key's ordinals in insertion order, and the buffer is newer.
        return [int(v) for v in self.vals[lo:hi]] + out if hi > lo else list(out)

    def get_many(self, keys: list[int], newest: int) -> np.ndarray:
        """The distinct ordinals filed under any of `keys`, the `newest` ones of each key (as
        get(key, newest) for each key, the sorted part searched once for all keys)."""
        buffered = [self.buffer.get(k, []) for k in keys]
        wanted = np.array([max(0, newest - len(b)) for b in buffered], dtype=np.int64)
        ks = np.array(keys, dtype=np.uint64)
        hi = np.searchsorted(self.keys, ks, side="right")
        lo = np.maximum(np.searchsorted(self.keys, ks, side="left"), hi - wanted)
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        stored = self.vals[starts + np.arange(total)] if total else self.vals[:0]
        recent = [v for b in buffered for v in b[-newest:]]
        return np.unique(np.concatenate([stored, np.array(recent, dtype=np.uint32)]))

    def merge(self) -> None:
        if not self.buffer:
            return
        ks = np.fromiter((k for k, vs in self.buffer.items() for _ in vs), dtype=np.uint64)
        vs = np.fromiter((v for vals in self.buffer.values() for v in vals), dtype=np.uint32)
        keys = np.concatenate([self.keys, ks])
        order = np.argsort(keys, kind="stable")
        self.keys, self.vals = keys[order], np.concatenate([self.vals, vs])[order]
        self.buffer.clear()
        self.buffered = 0
