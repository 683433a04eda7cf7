"""The benchmark corpora, written as inbox files (the header format ingest reads), en/ar/fr mixed.

- `real`: the real-article development corpora (tests/data/real*/articles, tune parts only: the
  blind parts are never read here either), the seeds and the project's own corpora, expanded with
  edited copies as outlets publish them: a new lead sentence, the text cut at another point,
  paragraphs re-ordered, figures changed, a credit line added. About one article in six is an
  original, the rest copies: syndication-heavy, like a wire-fed archive.
- `generated`: new articles assembled from real paragraphs of the same language (3 to 8 drawn
  from different articles, titles from a third), dated across 2019-2025; 10 % of them edited
  copies of an earlier one. Paragraph reuse across articles is heavy, as in a real archive where
  outlets recycle background paragraphs.

    .venv/bin/python bench/corpus.py real|generated N DIR   # writes N files into DIR

Deterministic: the same kind, N and seed give the same files.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import py3langid

from services.ingest.parse import Rejected, parse

ROOT = Path(__file__).resolve().parents[1]
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Text:
    title: str
    paragraphs: list[str]
    published: str | None
    language: str


def source_texts() -> list[Text]:
    """Every article text the corpora are built from: seeds, own corpora, real tune parts."""
    files = sorted((ROOT / "seeds").glob("*.txt"))
    for d in sorted((ROOT / "tests/data").iterdir()):
        files += sorted((d / "articles").glob("*.txt")) if (d / "articles").is_dir() else []
    out = []
    for f in files:
        parsed = parse(f.name, f.read_bytes(), datetime.now(UTC))
        if isinstance(parsed, Rejected):
            continue
        raw = parsed.articles[0]  # text files: one article each
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw.body) if p.strip()]
        title = raw.title or paragraphs[0][:120]
        when = raw.published_at.strftime("%Y-%m-%dT%H:%M") if raw.published_at else None
        out.append(Text(title, paragraphs, when, str(py3langid.classify(raw.body[:400])[0])))
    return out


def render(t: Text, published: str | None) -> bytes:
    head = f"Title: {t.title}\n" + (f"Published: {published}\n" if published else "")
    return (head + "\n" + "\n\n".join(t.paragraphs) + "\n").encode("utf-8")


LEADS = {
    "en": ["({outlet}) - Officials said on {day} that", "Updated {day}: as reported earlier,"],
    "fr": ["({outlet}) - Selon des sources officielles, {day},", "Mis à jour le {day} :"],
    "ar": ["({outlet}) - قالت مصادر رسمية يوم {day} إن", "تحديث {day}: كما أفادت تقارير سابقة"],
}
OUTLETS = ["Libya Review", "Al Wasat", "Libya Observer", "Agence Libye", "Maghreb Wire", "LANA"]


def edited_copy(t: Text, rng: random.Random, n: int) -> Text:
    """A copy as an outlet publishes a syndicated text: own lead, cut, re-ordered, figures
    changed, a credit line; `n` keeps every copy's text (hence its id) distinct."""
    paras = list(t.paragraphs)
    if len(paras) > 3 and rng.random() < 0.5:
        paras = paras[: rng.randint(max(2, len(paras) * 2 // 3), len(paras))]  # cut
    if len(paras) > 3 and rng.random() < 0.5:
        i = rng.randrange(1, len(paras) - 1)
        paras[i], paras[i + 1] = paras[i + 1], paras[i]  # re-ordered
    if rng.random() < 0.5:
        k = rng.randrange(len(paras))
        paras[k] = _DIGITS.sub(lambda m: str(int(m.group()) + rng.randint(1, 3)), paras[k])
    lead = rng.choice(LEADS.get(t.language, LEADS["en"])).format(
        outlet=rng.choice(OUTLETS), day=f"{rng.randint(1, 28)}/{rng.randint(1, 12)}"
    )
    paras[0] = f"{lead} {paras[0]}"
    paras.append(f"— {rng.choice(OUTLETS)} #{n}")
    return Text(t.title, paras, t.published, t.language)


def real(n: int, seed: int = 7) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    texts = source_texts()
    for i in range(n):
        t = texts[i % len(texts)]
        if i >= len(texts):
            t = edited_copy(t, rng, i)
        yield f"real-{i:06d}.txt", render(t, t.published)


def generated(n: int, seed: int = 11, copies: float = 0.1) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    pools: dict[str, list[Text]] = {}
    for t in source_texts():
        pools.setdefault(t.language if t.language in ("en", "fr", "ar") else "en", []).append(t)
    langs = [lang for lang, ts in pools.items() for _ in ts]  # the real language mix
    made: list[tuple[Text, str]] = []
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for i in range(n):
        if made and rng.random() < copies:
            base, published = rng.choice(made[-200:])  # copies follow their original closely
            text = edited_copy(base, rng, i)
        else:
            pool = pools[rng.choice(langs)]
            picks = [rng.choice(pool) for _ in range(rng.randint(3, 8))]
            paras = [rng.choice(p.paragraphs) for p in picks]
            text = Text(rng.choice(pool).title, [*paras, f"Ref. {i}"], None, picks[0].language)
            day = start + timedelta(days=rng.randrange(7 * 365), minutes=rng.randrange(1440))
            published = day.strftime("%Y-%m-%dT%H:%M")
            made.append((text, published))
        yield f"gen-{i:06d}.txt", render(text, published)


CORPORA = {"real": real, "generated": generated}


def write(kind: str, n: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in CORPORA[kind](n):
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=sorted(CORPORA))
    ap.add_argument("n", type=int)
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    print(f"{len(write(args.kind, args.n, args.folder))} files in {args.folder}")


if __name__ == "__main__":
    main()
