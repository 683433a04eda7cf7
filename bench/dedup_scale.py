"""Dedup and story linking at archive scale: N generated articles, a known share of them copies
(a new byline, a footer, small edits or truncation), fed to the same Linker the faust link agent
runs, over the same kind of store (rocksdict, the rocksdb binding faust's table uses; records on
disk). Prints, per tenth of the stream: the archive size, the CPU cost per article of the MinHash
signature and of linking, the records compared per article and the process RSS; then the cost at
10,000 against 100,000 articles (it must stay flat), the memory held, and copy recall/precision
against the known truth.

    .venv/bin/python bench/dedup_scale.py [--docs 100000] [--copies 0.2]
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from faust.stores.rocksdb import RocksDBOptions
from rocksdict import Rdict

from newspipe.contract import EnrichedArticle, Entity, doc_id
from services.enrich.app import table_rocksdb
from services.enrich.cold import ColdStores
from services.enrich.heap import return_large_blocks
from services.enrich.link import Linker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' article builder
from tests.conftest import linked_article

WORDS = [
    "libya",
    "military",
    "commission",
    "joint",
    "unification",
    "army",
    "ceasefire",
    "forces",
    "foreign",
    "mercenaries",
    "border",
    "security",
    "tripoli",
    "benghazi",
    "sirte",
    "paris",
    "meeting",
    "general",
    "chief",
    "staff",
    "statement",
    "united",
    "nations",
    "mission",
    "support",
    "envoy",
    "berlin",
    "process",
    "working",
    "group",
    "east",
    "west",
    "south",
    "withdrawal",
    "agreement",
    "talks",
    "committee",
    "officers",
    "government",
    "national",
    "unity",
    "house",
    "representatives",
    "elections",
    "oil",
    "gold",
    "smuggling",
    "trafficking",
    "migrants",
    "patrols",
    "training",
    "cooperation",
    "france",
    "italy",
    "turkey",
    "russia",
    "egypt",
    "wagner",
    "africa",
    "corps",
    "brigade",
    "militia",
]
# Actors and places are drawn Zipf-like (rank^-1), as names are in news: a few (Haftar, UNSMIL,
# Tripoli) are in a large share of articles, most appear rarely.
ACTORS = [f"person-{i}" for i in range(5000)]
PLACES = [f"city-{i}" for i in range(300)]
ORGS = [f"org-{i}" for i in range(400)]
ACTOR_CUM = list(itertools.accumulate(1 / r for r in range(1, len(ACTORS) + 1)))
PLACE_CUM = list(itertools.accumulate(1 / r for r in range(1, len(PLACES) + 1)))
ORG_CUM = list(itertools.accumulate(1 / r for r in range(1, len(ORGS) + 1)))
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PER_DAY = 720  # articles a day (--per-day): the 10-day story window then holds ~7,200 of them


def article(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(5, 9)):
        paras.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 70))) + ".")
    return "\n".join(paras)


Event = tuple[dict[str, list[str]], list[Entity]]


def event(rng: random.Random) -> Event:
    """Event evidence and the entity list an article would get from enrichment."""
    actors = list(dict.fromkeys(rng.choices(ACTORS, cum_weights=ACTOR_CUM, k=rng.randint(1, 4))))
    places = list(dict.fromkeys(rng.choices(PLACES, cum_weights=PLACE_CUM, k=rng.randint(1, 3))))
    orgs = list(dict.fromkeys(rng.choices(ORGS, cum_weights=ORG_CUM, k=rng.randint(1, 3))))
    entities = [
        Entity(id=e, name=e, type=kind, mentions=[e], count=rng.randint(1, 4))
        for kind, ids in (("PERSON", actors), ("LOC", ["libya", *places]), ("ORG", orgs))
        for e in ids
    ]
    evidence = {"actors": actors, "lead_actors": actors[:1], "places": places[:1], "dates": []}
    return evidence, entities


def copy_of(body: str, rng: random.Random) -> str:
    kind = rng.choice(["byline", "footer", "edit", "truncate"])
    if kind == "byline":
        return f"TRIPOLI, May {rng.randint(1, 28)} (Agency) - " + body
    if kind == "footer":
        return body + "\nRead more on our website. Follow us for updates."
    if kind == "edit":
        words = body.split(" ")
        for _ in range(5):
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        return " ".join(words)
    paras = body.split("\n")
    return "\n".join(paras[: max(2, len(paras) * 7 // 10)])


def enriched(body: str, i: int, ev: Event, per_day: int = PER_DAY) -> EnrichedArticle:
    return linked_article(
        body, f"{i}.txt", T0 + timedelta(seconds=86400 * i / per_day), ev[1], ev[0]
    )


class RocksStore(MutableMapping[str, Any]):
    """Records as JSON in rocksdb, as faust's rocksdb table store keeps them (on disk)."""

    def __init__(self, path: Path) -> None:
        # faust's own rocksdb options with the worker's settings for the members table
        options = RocksDBOptions(**table_rocksdb(), use_rocksdict=True).as_options()
        self.db = Rdict(str(path), options)

    def __getitem__(self, key: str) -> Any:
        raw = self.db.get(key.encode())
        if raw is None:
            raise KeyError(key)
        return orjson.loads(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        self.db[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.db[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for k in self.db.keys())  # noqa: SIM118 (Rdict iterates by index)

    def __len__(self) -> int:
        return sum(1 for _ in self.db.keys())  # noqa: SIM118


HEADER = (
    f"{'archive':>9} {'signature ms':>13} {'link ms':>8} {'link/sig':>9} {'total ms':>9} "
    f"{'compared':>9} {'RSS MB':>7}"
)


def row(r: tuple[int, float, float, int, float], tenth: int) -> str:
    """One tenth of the stream: CPU per article of the MinHash signature (work that does not
    depend on the archive, so its drift is the machine's) and of linking; records compared."""
    n, sig, link, compared, rss = r
    return (
        f"{n:>9,} {sig * 1e3:>13.3f} {link * 1e3:>8.3f} {link / sig:>9.2f} "
        f"{(sig + link) * 1e3:>9.3f} {compared / tenth:>9.1f} {rss:>7.0f}"
    )


ROCKS_MEMORY = (
    "rocksdb.cur-size-all-mem-tables",
    "rocksdb.estimate-table-readers-mem",
    "rocksdb.block-cache-usage",
)


def rocks_mb(dbs: list[Rdict]) -> float:
    """What rocksdb holds in memory for these stores: write buffers, table indexes and filters,
    read caches (a cache shared by two stores is counted twice)."""
    return sum(db.property_int_value(p) or 0 for db in dbs for p in ROCKS_MEMORY) / 2**20


# The bench's own bookkeeping (which article copies which) in rocksdb with small buffers: at the
# worker's table settings it took up to 64 MB of the RSS measured as the linker's.
TRUTH_ROCKSDB = {
    "write_buffer_size": 2**20,
    "max_write_buffer_number": 2,
    "block_cache_size": 2**20,
    "use_rocksdict": True,
}


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now, or its peak with field "VmHWM"."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--copies", type=float, default=0.2)
    ap.add_argument("--per-day", type=int, default=PER_DAY, help="publication rate")
    ap.add_argument(
        "--all-in-memory",
        action="store_true",
        help="no cold store: the band index and every group stay in memory (the old layout)",
    )
    args = ap.parse_args()
    print(f"glibc mmap threshold fixed, as in the worker: {return_large_blocks()}")
    rng = random.Random(42)
    work = Path(tempfile.mkdtemp(prefix="newspipe-dedup-bench-"))
    try:
        run(args.docs, args.copies, args.per_day, rng, work, not args.all_in_memory)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(docs: int, share: float, per_day: int, rng: random.Random, work: Path, cold: bool) -> None:
    # Generator state is bounded (2,000 recent originals) and the truth is kept on disk, so the
    # RSS growth measured is the linker's.
    originals: deque[tuple[str, Event]] = deque(maxlen=2000)
    # id -> id of the original, or b"" for an original; small buffers: the bench's own memory
    truth = Rdict(str(work / "truth"), RocksDBOptions(**TRUTH_ROCKSDB).as_options())
    store = RocksStore(work / "members")
    stores = ColdStores(work / "link-index")  # the worker's own cold store (rocksdb)
    linker = Linker(store, cold=stores() if cold else None)
    print("cold store: " + ("rocksdb, as in the worker" if cold else "none, all in memory"))
    rss0 = rss_mb()
    tenth = max(1, docs // 10)
    rows: list[tuple[int, float, float, int, float]] = []
    print(f"{docs:,} articles, {per_day:,} a day, {share:.0%} copies", flush=True)
    print(HEADER, flush=True)
    sig_t = link_t = 0.0
    compared0 = 0
    start = time.process_time()
    for i in range(docs):
        if originals and rng.random() < share:
            src, ev = rng.choice(originals)
            body, origin = copy_of(src, rng), doc_id(src)
        else:
            body, origin, ev = article(rng), "", event(rng)
            originals.append((body, ev))
        t0 = time.process_time()
        doc = enriched(body, i, ev, per_day)
        t1 = time.process_time()
        linker.observe(doc)
        t2 = time.process_time()
        sig_t, link_t = sig_t + t1 - t0, link_t + t2 - t1
        if doc.id.encode() not in truth:
            truth[doc.id.encode()] = origin.encode()
        if (i + 1) % tenth == 0:
            rows.append(
                (i + 1, sig_t / tenth, link_t / tenth, linker.compared - compared0, rss_mb())
            )
            print(
                row(rows[-1], tenth) + f"  rocksdb {rocks_mb([truth, store.db, *stores.open]):.0f}"
                f" MB, band entries in memory {len(linker.bands.keys):,}",
                flush=True,
            )
            sig_t = link_t = 0.0
            compared0 = linker.compared
    total = time.process_time() - start
    report(docs, total, rows, tenth, rss0, linker, store, truth, work)


def report(
    docs: int,
    total: float,
    rows: list[tuple[int, float, float, int, float]],
    tenth: int,
    rss0: float,
    linker: Linker,
    store: RocksStore,
    truth: Rdict,
    work: Path,
) -> None:
    copies = tp = fp = 0
    for key, origin in truth.items():
        rec = store[key.decode()]
        copies += bool(origin)
        tp += bool(origin) and rec["dup"] is not None
        fp += not origin and rec["dup"] is not None
    print(f"articles: {docs:,} ({copies:,} distinct copies), CPU time {total:.1f} s")
    print(f"throughput (signature + link, one core): {docs / total:,.0f} docs/s")
    if len(rows) == 10:
        (_, s2, l2, _, _), (_, s10, l10, _, _) = rows[1], rows[-1]
        print(
            f"per-article cost, archive at {rows[0][0]:,}-{rows[1][0]:,}: "
            f"{(s2 + l2) * 1e3:.3f} ms; at {rows[-2][0]:,}-{rows[-1][0]:,}: "
            f"{(s10 + l10) * 1e3:.3f} ms; ratio {(s10 + l10) / (s2 + l2):.2f}; linking alone "
            f"{l10 / l2:.2f}; linking per unit of signature work (machine drift factored out) "
            f"{(l10 / s10) / (l2 / s2):.2f}"
        )
    held = rss_mb() - rss0
    index = linker.bands.keys.nbytes + linker.bands.vals.nbytes + len(linker.ids)
    groups = len(linker.dup_groups.hot) + len(linker.stories.hot)
    print(
        f"memory held: RSS growth {held:.0f} MB ({held * 1024 / docs:.2f} KB/article); "
        f"band index + id table {index / 2**20:.1f} MB in memory, {linker.bands.spilled:,} band "
        f"entries on disk; groups in memory {groups:,}"
        f"; member records on disk (rocksdb, as in the faust table) "
        f"{du_mb(work / 'members'):.0f} MB; cold store on disk {du_mb(work / 'link-index'):.0f} MB"
    )
    if len(rows) == 10:
        r2, r5, r10 = rows[1][4], rows[4][4], rows[-1][4]
        print(
            f"RSS at {rows[1][0]:,} / {rows[4][0]:,} / {rows[-1][0]:,} articles: {r2:.0f} / "
            f"{r5:.0f} / {r10:.0f} MB; growth over the second half "
            f"{(r10 - r5) * 1024 / (rows[-1][0] - rows[4][0]):.2f} KB/article; peak RSS of the "
            f"run {rss_mb('VmHWM'):.0f} MB (VmHWM: the band index's merges included)"
        )
    print(f"copies linked: recall {tp / max(1, copies):.4f}, originals wrongly linked: {fp}")


if __name__ == "__main__":
    main()
