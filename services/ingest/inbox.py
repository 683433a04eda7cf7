"""Decisions about inbox files, apart from the I/O loop (watch.py): testable without servers.

Owns: which names are article files; when a file is complete (the settle state machine, and the
/proc scan for processes holding a file open for writing); the rule against a name that reappears
soon after it was taken; where a file goes under processed/ or rejected/; which symbolic links may
be read; the size limit's wording; what a Kafka error means for one file (reject it, or keep it and
wait for the broker) and the backoff while waiting.

Nothing here moves a file or talks to Kafka; it reads metadata only (stat, readlink, /proc).
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from newspipe.config import IngestSettings
from newspipe.obs import FIRST_BACKOFF, MAX_BACKOFF
from services.ingest import draft
from services.ingest.parse import MAX_BYTES_SETTING, SIDECAR_SUFFIX, SUFFIXES, TEXT_FORMATS

# Names a writer uses while a file is incomplete (browsers, rsync, editors), and dot-files.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")
# A file renamed into the inbox (the convention: write `name.part`, then rename it) was complete
# before the rename; this only lets the rename's own event burst pass (two loop ticks of 50 ms).
ATOMIC_SETTLE_SECONDS = 0.1
# A writer that reopens a path after its first part was taken creates a new file holding the tail.
# 5 minutes covers a writer paused between chunks (a slow download, a script's batch) while still
# letting the same name come back within a working session (NEWSPIPE_INGEST__REAPPEAR_SECONDS).
REAPPEAR_SECONDS = 300.0
# Names remembered at most: at 1,600 articles a day a 5-minute window holds ~6; 10,000 (about
# 1 MB) covers a whole archive dropped at once. The oldest are forgotten first.
REAPPEAR_LIMIT = 10_000
# A file found open for writing is looked at again after this long, not every tick: the /proc scan
# costs ~7 us per open file of every process (5.4 ms for 67 processes, 800 fds, on the dev VM).
HELD_RECHECK_SECONDS = 1.0
# Access mode bits of an open file's flags (asm-generic/fcntl.h: O_RDONLY 0, O_WRONLY 1, O_RDWR 2).
O_ACCMODE = 0o3

Signature = tuple[int, int, int]  # (inode, size, mtime in ns): any change means "still written"


def is_article_name(rel: PurePath) -> bool:
    """Not a dot-file, not inside a dot-folder, not a writer's temporary name."""
    return not any(p.startswith(".") for p in rel.parts) and not rel.name.endswith(IGNORED_SUFFIXES)


# A sidecar is written next to its article, before it or together with it; one still without an
# article after this long (the article never came, or was misnamed) is rejected, saying so.
SIDECAR_WAIT_SECONDS = 60.0
MAX_FILE_BYTES_SETTING = "NEWSPIPE_INGEST__MAX_FILE_BYTES"
PAGE_ASSETS_SUFFIX = "_files"  # Chrome's and Firefox's folder beside a page saved complete


def is_sidecar(rel: PurePath) -> bool:
    return rel.name.endswith(SIDECAR_SUFFIX)


def is_page_asset(rel: PurePath) -> bool:
    """A file a browser saved with a page ("Save page, complete": `Page_files/style.css`, images,
    scripts): not an article; it goes to processed/ with its page, unread."""
    return any(part.endswith(PAGE_ASSETS_SUFFIX) for part in rel.parts[:-1])


def sidecar_names(rel: PurePath) -> list[PurePath]:
    """Where an article's sidecar may be: `a.html.meta.json`, then `a.meta.json`."""
    names = [rel.with_name(rel.name + SIDECAR_SUFFIX)]
    if rel.suffix:
        names.append(rel.with_name(rel.stem + SIDECAR_SUFFIX))
    return names


def sidecar_owners(sidecar: PurePath, names: list[str]) -> list[PurePath]:
    """The article files among `names` (one folder's entries) that `sidecar` belongs to."""
    found = [sidecar.with_name(n) for n in names]
    return [p for p in found if not is_sidecar(p) and sidecar in sidecar_names(p)]


def size_limit(rel: PurePath, cfg: IngestSettings) -> tuple[int, str]:
    """(bytes, setting) limiting a file: the article limit for a text file (.txt, .md, unknown
    names), the file limit for a container (a page, PDF, e-mail or export)."""
    if SUFFIXES.get(rel.suffix.lower(), "txt") in TEXT_FORMATS:
        return cfg.max_bytes, MAX_BYTES_SETTING
    return cfg.max_file_bytes, MAX_FILE_BYTES_SETTING


def signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class Entry:
    first_seen: float
    changed_at: float
    sig: Signature | None = None
    atomic: bool = False  # arrived by a rename and unchanged since
    recheck_at: float = 0.0  # held back (open for writing, Kafka down): not looked at before


class Pending:
    """Files seen and not yet taken, and when each becomes complete.

    A file is due once its signature stayed the same for `settle` seconds (ATOMIC_SETTLE_SECONDS if
    it arrived by a rename and has not changed since). The caller then checks for writers and
    calls `hold()` for a file still open for writing. Times are the caller's monotonic clock."""

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self.entries: dict[PurePath, Entry] = {}

    def note(self, rel: PurePath, now: float, *, renamed: bool = False) -> None:
        entry = self.entries.get(rel)
        if entry is None:
            self.entries[rel] = Entry(first_seen=now, changed_at=now, atomic=renamed)
        elif renamed:  # a rename replaced the file: a new, complete one
            entry.atomic, entry.sig, entry.changed_at = True, None, now

    def observe(self, rel: PurePath, sig: Signature | None, now: float) -> None:
        """Record the file's current signature; None means it is gone."""
        if sig is None:
            self.entries.pop(rel, None)
            return
        entry = self.entries[rel]
        if sig != entry.sig:
            if entry.sig is not None:  # written in place after it arrived: no longer atomic
                entry.atomic = False
            entry.sig, entry.changed_at = sig, now

    def refresh(self, now: float, look: Callable[[PurePath], Signature | None]) -> None:
        """Observe every file not held back (a held file's change is seen when it is looked at
        again, and its settle time counts from then)."""
        for rel, entry in list(self.entries.items()):
            if now >= entry.recheck_at:
                self.observe(rel, look(rel), now)

    def due(self, now: float) -> list[PurePath]:
        """Files unchanged long enough, oldest first."""
        ready = [
            (e.first_seen, str(rel), rel)
            for rel, e in self.entries.items()
            if e.sig is not None
            and now >= e.recheck_at
            and now - e.changed_at >= (ATOMIC_SETTLE_SECONDS if e.atomic else self.settle)
        ]
        return [rel for _, _, rel in sorted(ready)]

    def settled(self, rel: PurePath, now: float) -> bool:
        """Has `rel` (seen, and unchanged since) stayed the same long enough? Held or not."""
        e = self.entries.get(rel)
        wait = ATOMIC_SETTLE_SECONDS if e is not None and e.atomic else self.settle
        return e is not None and e.sig is not None and now - e.changed_at >= wait

    def hold(self, rel: PurePath, until: float) -> None:
        """Not due, nor looked at, before `until` (held open for writing; Kafka unreachable)."""
        self.entries[rel].recheck_at = until

    def pop(self, rel: PurePath) -> Entry | None:
        return self.entries.pop(rel, None)


def open_for_writing(root: Path, proc: Path = Path("/proc")) -> set[Path] | None:
    """Paths under `root` that some process holds open for writing, from /proc/PID/fd (readlink)
    and /proc/PID/fdinfo/FD (flags, octal). None where there is no /proc: the caller relies on the
    settle time alone. Processes we may not inspect (another user's, or gone mid-scan) are skipped.
    `root` must be resolved (fd links name real paths)."""
    if not (proc / "self" / "fdinfo").is_dir():
        return None
    prefix = str(root).rstrip(os.sep) + os.sep
    found: set[Path] = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                if target.startswith(prefix) and _writable(f"{proc}/{pid}/fdinfo/{fd}"):
                    found.add(Path(target))
            except OSError:  # the fd closed or the process ended while we looked
                continue
    return found


def _writable(fdinfo: str) -> bool:
    with open(fdinfo, encoding="ascii") as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    return False


class RecentlyTaken:
    """Relative paths taken (published or rejected) in the last `window` seconds, bounded."""

    def __init__(self, window: float = REAPPEAR_SECONDS, limit: int = REAPPEAR_LIMIT) -> None:
        self.window, self.limit = window, limit
        self.taken: OrderedDict[PurePath, float] = OrderedDict()

    def add(self, rel: PurePath, now: float) -> None:
        self.taken.pop(rel, None)
        self.taken[rel] = now
        while self.taken and (
            len(self.taken) > self.limit or now - next(iter(self.taken.values())) > self.window
        ):
            self.taken.popitem(last=False)

    def reappeared(self, rel: PurePath, first_seen: float) -> str | None:
        """Why a file first seen at `first_seen` is refused, or None."""
        taken = self.taken.get(rel)
        if taken is None or not 0 <= first_seen - taken < self.window:
            return None
        return (
            f"a file named {rel.as_posix()} was taken {first_seen - taken:.0f} s before this one"
            " appeared: this may be the tail of a file still being written (a writer that reopened"
            " the name after its first part was taken). Send a new article under a new name, or"
            f" move this file back into the inbox after {self.window:.0f} s if it is complete"
        )


def destination(
    folder: Path, rel: PurePath, taken: Callable[[Path], bool] = os.path.lexists
) -> Path:
    """Where `rel` goes under processed/ or rejected/: the same sub-folder, and a free name (a.txt,
    a.1.txt, ...) so that an earlier file of that name, or its .error.txt, is never overwritten."""
    target = folder / rel
    n = 1
    while any(
        taken(target.with_name(target.name + end)) for end in ("", ".error.txt", SIDECAR_SUFFIX)
    ):
        target = folder / rel.parent / f"{rel.stem}.{n}{rel.suffix}"
        n += 1
    return target


@dataclass(frozen=True)
class Refused:
    reason: str


def what_to_read(path: Path, inbox: Path) -> Path | Refused | None:
    """The file whose bytes are the article at `path`: itself when it is a regular file, the link
    target for a symbolic link to a regular file inside the (resolved) inbox; a link to a folder
    inside the inbox is left alone (None). Anything else is refused, and never opened."""
    st = path.lstat()
    if stat.S_ISREG(st.st_mode):
        return path
    if not stat.S_ISLNK(st.st_mode):
        return Refused("not a regular file (a folder, pipe, socket or device): only files are read")
    link = os.readlink(path)
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return Refused(f"dangling symbolic link: its target {link} does not exist")
    except (OSError, RuntimeError) as exc:  # a link loop
        return Refused(f"symbolic link {link} cannot be resolved ({exc})")
    if not target.is_relative_to(inbox):
        return Refused(
            f"symbolic link to {target}, outside the inbox: links out of the inbox are not"
            " followed (copy the file into the inbox instead)"
        )
    if target.is_dir():
        return None
    return target if target.is_file() else Refused(f"symbolic link to {target}: not a file")


def too_large(size: int, limit: int, setting: str = MAX_BYTES_SETTING) -> str | None:
    """The reason a file of `size` bytes is refused unread, None when it fits."""
    return None if size <= limit else draft.too_large(size, limit, setting=setting)


class Backoff:
    """When to try an unreachable Kafka again: FIRST_BACKOFF, doubling, capped at MAX_BACKOFF."""

    def __init__(self, first: float = FIRST_BACKOFF, cap: float = MAX_BACKOFF) -> None:
        self.first, self.cap = first, cap
        self.delay = 0.0
        self.next_try = 0.0

    def ready(self, now: float) -> bool:
        return now >= self.next_try

    def failed(self, now: float) -> float:
        self.delay = min(self.delay * 2, self.cap) if self.delay else self.first
        self.next_try = now + self.delay
        return self.delay

    def succeeded(self) -> None:
        self.delay = self.next_try = 0.0
