"""Scores of what ingest reads from real-shaped inputs, against labels made by helpers who did not
read the code (`newspipe eval-formats`):

- datelines (tests/data/datelines/{tune,blind}): publication date and credited outlet from the
  opening of real wire and outlet texts;
- pages (tests/data/formats/pages/{tune,blind}): saved web pages around real articles: the share of
  pages whose body holds boilerplate (navigation, teasers, related lists, comments...), body
  completeness (labelled body phrases found), title, outlet and publication-date accuracy.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from services.ingest.credits import outlets
from services.ingest.parse import Parsed, parse

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FOLDERS = [
    ROOT / "tests/data/datelines/tune",
    ROOT / "tests/data/datelines/blind",
    ROOT / "tests/data/formats/pages/tune",
    ROOT / "tests/data/formats/pages/blind",
]
# The labels give the outlet's local date; a UTC time near midnight may fall on the next day.
DATE_TOLERANCE_DAYS = 1


def _labels(folder: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load((folder / "labels.yaml").read_text("utf-8"))
    return list(data)


def _one(path: Path, now: datetime) -> Any:
    out = parse(path.name, path.read_bytes(), now)
    return out.articles[0] if isinstance(out, Parsed) else None


def _same_day(found: datetime | None, label: str | None) -> bool:
    if found is None or label is None:
        return False
    return abs((found.date() - date.fromisoformat(str(label))).days) <= DATE_TOLERANCE_DAYS


def _same_outlet(found: str | None, label: str) -> bool:
    """The outlet found is the labelled one: its name, its name in another script or its domain
    (labels write "Al Wasat (بوابة الوسط)"), the same outlet by the knowledge pack's credit
    forms, or the same but for a leading "The"."""
    if found is None:
        return False
    names = [label, *re.findall(r"\(([^)]+)\)", label), re.sub(r"\s*\([^)]*\)", "", label)]
    known = outlets()
    wanted = {_fold(n.removeprefix("The ")) for n in names} | {
        _fold(c) for n in names if (c := known.credited(n))
    }
    return (
        _fold(found.removeprefix("The ")) in wanted or _fold(known.credited(found) or "") in wanted
    )


def _fold(text: str) -> str:
    return re.sub(r"[^\w]", "", text.casefold())


def datelines(folder: Path, now: datetime | None = None) -> dict[str, Any]:
    """Publication date: right (within a day) / wrong / none, over items whose text carries a
    date; a date given for an item whose text carries none is counted wrong unless right.
    Outlet: right / wrong / none over items that credit their outlet in the text."""
    now = now or datetime.now(UTC)
    dated = {"right": 0, "wrong": 0, "none": 0}
    undated = {"right": 0, "wrong": 0, "none": 0}
    credited = {"right": 0, "wrong": 0, "none": 0}
    misses: list[str] = []
    for item in _labels(folder):
        art = _one(folder / item["file"], now)
        found = art.published_at if art is not None else None
        tally = dated if item.get("dateline_date") else undated
        verdict = (
            "none" if found is None else "right" if _same_day(found, item["published"]) else "wrong"
        )
        tally[verdict] += 1
        if verdict == "wrong" or (verdict == "none" and tally is dated):
            misses.append(
                f"date {verdict}: {item['file']} {found and found.date()} vs {item['published']}"
            )
        if item.get("credited_in_text"):
            outlet = art.source.outlet if art is not None else None
            ok = (
                "none"
                if outlet is None
                else "right"
                if _same_outlet(outlet, item["outlet"])
                else "wrong"
            )
            credited[ok] += 1
            if ok != "right":
                misses.append(f"outlet {ok}: {item['file']} {outlet!r} vs {item['outlet']!r}")
    return {
        "items": sum(dated.values()) + sum(undated.values()),
        "dated: date right/wrong/none": dated,
        "undated: date right/wrong/none": undated,
        "credited: outlet right/wrong/none": credited,
        "misses": misses,
    }


def _visible(text: str) -> str:
    return " ".join(text.split())


def pages(folder: Path, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    n = with_boilerplate = leaked = markers = markers_found = 0
    title_ok = outlet_ok = date_ok = date_none = complete = 0
    misses: list[str] = []
    for item in _labels(folder):
        n += 1
        art = _one(folder / item["file"], now)
        if art is None:
            misses.append(f"rejected: {item['file']}")
            continue
        body = _visible(art.body)
        leaks = [b for b in item.get("boilerplate_markers", []) if _visible(b) in body]
        leaked += len(leaks)
        with_boilerplate += bool(leaks)
        found = [m for m in item.get("body_markers", []) if _visible(m) in body]
        markers += len(item.get("body_markers", []))
        markers_found += len(found)
        ends = [item.get("body_first"), item.get("body_last")]
        whole = all(e and _visible(e) in body for e in ends) and len(found) == len(
            item.get("body_markers", [])
        )
        complete += whole
        title_ok += _fold(art.title or "") == _fold(item["title"])
        outlet_ok += _same_outlet(art.source.outlet, item["outlet"])
        date_ok += _same_day(art.published_at, item["published"])
        date_none += art.published_at is None
        for leak in leaks[:3]:
            misses.append(f"boilerplate: {item['file']}: {leak[:60]!r}")
        if not whole:
            total = len(item.get("body_markers", []))
            misses.append(f"incomplete: {item['file']} ({len(found)}/{total} markers)")
        if not _same_day(art.published_at, item["published"]):
            misses.append(f"date: {item['file']} {art.published_at} vs {item['published']}")
    return {
        "pages": n,
        "pages with boilerplate in the body": with_boilerplate,
        "boilerplate phrases leaked": leaked,
        "body phrases found": f"{markers_found}/{markers}",
        "pages with the whole body": complete,
        "title right": title_ok,
        "outlet right": outlet_ok,
        "date right": date_ok,
        "date none": date_none,
        "misses": misses,
    }


def score(folder: Path) -> dict[str, Any]:
    """The datelines or pages scores, as the folder's labels call for."""
    first = _labels(folder)[0]
    return pages(folder) if "boilerplate_markers" in first else datelines(folder)
