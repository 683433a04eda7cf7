"""The link worker's cold store on disk: rocksdb (rocksdict, as faust's tables use) for what the
linker's indexes do not keep in memory (link.Cold). It holds only data derived from the members
table, so each new linker starts it empty and fills it as it indexes the table."""

from __future__ import annotations

import shutil
from pathlib import Path

from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, Options, Rdict

from services.enrich.link import Cold

# Memory rocksdb may use: two write buffers (memtables) per store, and one read cache for both.
# Bounded so that the worker's RSS stays flat as the archive grows (rocksdb's defaults take
# ~150 MB a store). Writes come in bursts (a spill); most reads find nothing, which the bloom
# filters answer from memory.
WRITE_BUFFER_BYTES = 4 * 2**20
CACHE_BYTES = 16 * 2**20


def _options(cache: Cache) -> Options:
    options = Options(raw_mode=True)  # keys and values are bytes, stored as they are
    options.create_if_missing(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_bloom_filter(10, False)  # a key that is not there is answered without a disk read
    # The filters and indexes of the files on disk grow with the archive (10 bits a key: ~21 MB
    # for the 16.8M entries of a million generated articles). Kept in partitions, in the read
    # cache, they are bounded with it; only each file's top-level index stays in memory.
    table.set_index_type(BlockBasedIndexType.two_level_index_search())
    table.set_partition_filters(True)
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_top_level_index_and_filter(True)
    table.set_block_cache(cache)
    options.set_block_based_table_factory(table)
    return options


class ColdStores:
    """Makes a fresh Cold under `folder` at each call (the previous one closed and deleted)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.open: list[Rdict] = []

    def __call__(self) -> Cold:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        cache = Cache(CACHE_BYTES)
        bands, groups = (Rdict(str(self.folder / n), _options(cache)) for n in ("bands", "groups"))
        self.open = [bands, groups]
        return Cold(bands, groups)

    def close(self) -> None:
        for db in self.open:
            db.close()
        self.open = []
