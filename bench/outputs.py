"""Every decision enrich + link makes on a set of article files, as JSON lines (documents without
their clock field, then the corrections each one caused), for comparing two versions of the code
byte for byte: run it once per tree (`PYTHONPATH=<tree>`, from that tree) and `cmp` the outputs.

    .venv/bin/python bench/outputs.py OUT DIR [DIR...]   # the first 1,500 .txt files of each DIR
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from newspipe.contract import utcnow
from services.enrich.core import Enricher
from services.enrich.link import Linker
from services.ingest.parse import Rejected, parse

WHEN = datetime(2026, 1, 1, tzinfo=UTC)  # one fixed clock: the output depends on the code only


def main() -> None:
    out_path, folders = Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]
    enricher, linker = Enricher(), Linker({})
    with out_path.open("wb") as out:
        for folder in folders:
            for f in sorted(folder.glob("*.txt"))[:1500]:
                parsed = parse(f.name, f.read_bytes(), WHEN)
                if isinstance(parsed, Rejected):
                    continue
                raw = parsed.articles[0]  # text files: one article each
                decided, updates = linker.observe(enricher.enrich(raw, utcnow()))
                doc = orjson.loads(decided.to_bytes())
                doc.pop("enriched_at")
                out.write(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n")
                out.writelines(u.to_bytes() + b"\n" for u in updates)


if __name__ == "__main__":
    main()
