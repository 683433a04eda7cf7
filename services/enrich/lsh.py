"""MinHash signatures as the link stage stores and compares them, and a compact LSH band index.

A signature is stored as text (base64 of its uint32 values). The band index maps band key ->
member ordinals, held as sorted numpy arrays plus a small dict of recent additions merged in
batches (an LSM tree in miniature). About 12 bytes per band entry, against ~100 for a dict of
lists: 100,000 articles x 20 bands fit in ~25 MB. The split of a signature into BANDS x ROWS is
defined (and checked) with the signature length in dedup.py."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Protocol

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
    x_hit = np.zeros((len(flat), len(x), SENTENCE_HASHES), dtype=np.int8)  # per other article
    if len(col) < 2 or (col[1:] != col[:-1]).all():
        # The usual case, each value once in the article: a found value is at `lo`.
        found = col[np.minimum(lo, len(col) - 1)] == ys
        y_hit = found.reshape(y.shape)  # other sentence j agrees with some x on hash k
        hits = np.flatnonzero(found)
        x_flat = order[lo[hits]]  # x row * SENTENCE_HASHES + k
        rows = owner[hits // SENTENCE_HASHES]
    else:  # a sentence repeated in the article: each value found may stand for several rows
        n = np.searchsorted(col, ys, side="right") - lo
        y_hit = (n > 0).reshape(y.shape)
        hits = np.flatnonzero(n)
        counts = n[hits]
        first = np.repeat(lo[hits] - np.cumsum(counts) + counts, counts)
        x_flat = order[first + np.arange(counts.sum())]
        rows = np.repeat(owner[hits // SENTENCE_HASHES], counts)
    x_hit[rows, x_flat // SENTENCE_HASHES, x_flat % SENTENCE_HASHES] = 1
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


class ByteStore(Protocol):
    """What a cold store must do (a dict, or a rocksdb table on disk)."""

    def get(self, key: bytes) -> bytes | None: ...
    def __setitem__(self, key: bytes, value: bytes) -> None: ...
    def __delitem__(self, key: bytes) -> None: ...


# Entries held in memory (12 bytes each) before the oldest half moves to the cold store, when
# the index has one: ~50 MB, the last ~60,000 articles at 20 band + 48 sentence keys each.
HOT_ENTRIES = 4_000_000
SPILL_CHUNK = 65_536  # keys moved per step of a spill

# Which keys the cold store holds, as a bloom filter in memory (two bits a key, 2^27 bits:
# 16 MB, made at the first spill): most lookups ask for keys it does not hold, and rocksdb took
# ~12 us to say so (its own filters sit in its read cache, one per file), ~0.8 ms an article of
# 68 keys. False positives (~4 % at 14M keys, a million generated articles) only cost a read;
# there are no false negatives, so the answers are the same.
FILTER_BITS = 27
_FILTER_MULTIPLIERS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


class BandIndex:
    """Band key -> member ordinals, oldest first.

    Hot: sorted arrays plus a buffer of recent additions, in memory. Cold (optional): a mapping
    of 8-byte key -> its older ordinals as little-endian uint32, on disk (rocksdb in the worker).
    When the hot arrays pass `hot_entries`, their older half moves to the cold store; a lookup
    that wants more ordinals of a key than memory holds reads the rest from it. The answers are
    the same with or without a cold store: only where the entries live differs."""

    def __init__(self, cold: ByteStore | None = None, hot_entries: int = HOT_ENTRIES) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.vals = np.empty(0, dtype=np.uint32)
        self.buffer: dict[int, list[int]] = {}
        self.buffered = 0
        self.cold, self.hot_entries = cold, hot_entries
        self.spilled = 0  # entries moved to the cold store so far
        self.on_disk = np.zeros(0, dtype=np.uint64)  # the filter of the keys moved there (words)

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
        held = hi - lo + len(out)
        if newest is not None:
            lo = max(lo, hi - (newest - len(out)))
        # A stable sort keeps each key's ordinals in insertion order, and the buffer is newer.
        hot = [int(v) for v in self.vals[lo:hi]] + out if hi > lo else list(out)
        need = (newest - held) if newest is not None else None
        if self.spilled and (need is None or need > 0) and self._maybe_on_disk([key])[0]:
            older: list[int] = self._cold(key, need).tolist()
            return older + hot
        return hot

    def get_many(self, keys: list[int], newest: int) -> np.ndarray:
        """The distinct ordinals filed under any of `keys`, the `newest` ones of each key (as
        get(key, newest) for each key, the sorted part searched once for all keys)."""
        buffered = [self.buffer.get(k, []) for k in keys]
        held = np.array([len(b) for b in buffered], dtype=np.int64)
        wanted = np.maximum(0, newest - held)
        ks = np.array(keys, dtype=np.uint64)
        hi = np.searchsorted(self.keys, ks, side="right")
        first = np.searchsorted(self.keys, ks, side="left")
        lo = np.maximum(first, hi - wanted)
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        stored = self.vals[starts + np.arange(total)] if total else self.vals[:0]
        recent = [v for b in buffered for v in b[-newest:]]
        parts = [stored, np.array(recent, dtype=np.uint32)]
        if self.spilled:  # keys of which memory holds fewer than `newest`: the rest on disk
            short = newest - (hi - first + held)
            ask = np.flatnonzero((short > 0) & self._maybe_on_disk(ks))
            parts += [self._cold(keys[i], int(short[i])) for i in ask.tolist()]
        return np.unique(np.concatenate(parts))

    def _maybe_on_disk(self, keys: np.ndarray | list[int]) -> np.ndarray:
        """False for each key the cold store surely does not hold (the filter of _spill)."""
        found = np.ones(len(keys), dtype=bool)
        for word, bit in _filter_bits(np.asarray(keys, dtype=np.uint64)):
            found &= (self.on_disk[word] & bit) != 0
        return found

    def _cold(self, key: int, newest: int | None) -> np.ndarray:
        """The ordinals of `key` in the cold store, the `newest` ones if given."""
        assert self.cold is not None  # spilled > 0 only with a cold store
        data = self.cold.get(key.to_bytes(8, "little"))
        if data is None:
            return self.vals[:0]
        vals = np.frombuffer(data, dtype="<u4")
        return vals if newest is None else vals[-newest:]

    def merge(self) -> None:
        """Move the buffer into the sorted arrays: the buffer alone is sorted (stably: a key's
        ordinals stay in insertion order) and inserted after each key's older entries, so that
        the arrays are copied once, not concatenated, sorted and gathered (a few times their
        size at once, which was most of the link worker's peak memory)."""
        if not self.buffer:
            return
        ks = np.fromiter((k for k, vs in self.buffer.items() for _ in vs), dtype=np.uint64)
        vs = np.fromiter((v for vals in self.buffer.values() for v in vals), dtype=np.uint32)
        self.buffer.clear()
        self.buffered = 0
        order = np.argsort(ks, kind="stable")
        ks, vs = ks[order], vs[order]
        at = np.searchsorted(self.keys, ks, side="right")
        self.keys = np.insert(self.keys, at, ks)
        self.vals = np.insert(self.vals, at, vs)
        if self.cold is not None and len(self.keys) > self.hot_entries:
            self._spill()

    def _spill(self) -> None:
        """Move the entries of the older ordinals, about half of memory's, to the cold store:
        each key's are appended to what it holds (ordinals only grow, so the order is kept)."""
        assert self.cold is not None
        keep = self.hot_entries // 2
        cut = np.partition(self.vals, len(self.vals) - keep)[len(self.vals) - keep]
        old = self.vals < cut
        keys, vals = self.keys[old], self.vals[old]
        if not len(keys):
            return
        firsts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])  # each key's first entry
        lasts = np.r_[firsts[1:], len(keys)]
        if not len(self.on_disk):
            self.on_disk = np.zeros(2**FILTER_BITS // 64, dtype=np.uint64)
        cold = self.cold
        for at in range(0, len(firsts), SPILL_CHUNK):  # a few Python ints at a time, not millions
            chunk = slice(at, at + SPILL_CHUNK)
            for word, bit in _filter_bits(keys[firsts[chunk]]):  # chunked: no 16 MB temporaries
                np.bitwise_or.at(self.on_disk, word, bit)
            lo, hi = int(firsts[at]), int(lasts[chunk][-1])
            names = keys[lo:hi].astype("<u8").tobytes()  # this chunk's bytes only
            values = vals[lo:hi].astype("<u4").tobytes()
            for a, b in zip(firsts[chunk].tolist(), lasts[chunk].tolist(), strict=True):
                name = names[8 * (a - lo) : 8 * (a - lo) + 8]
                cold[name] = (cold.get(name) or b"") + values[4 * (a - lo) : 4 * (b - lo)]
        self.spilled += len(keys)
        del keys, vals
        young = ~old
        del old
        self.keys, self.vals = self.keys[young], self.vals[young]


def _filter_bits(keys: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The filter's bits for `keys` (uint64), as (word index, bit mask) per hash: multiplicative
    hashes, as keys need not be uniform (band and sentence keys are xxh64 values; tests file
    small integers)."""
    shift, low, one = np.uint64(64 - FILTER_BITS), np.uint64(63), np.uint64(1)
    slots = [(keys * m) >> shift for m in _FILTER_MULTIPLIERS]
    return [(slot >> np.uint64(6), one << (slot & low)) for slot in slots]
