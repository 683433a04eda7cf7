"""The software the servers run: Kafka's jars and the Elasticsearch zip, fetched from Maven Central
once into the cache folder (locked, marked complete, then renamed), the JDK, and the files under
deploy/local."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from newspipe.config import StackSettings
from newspipe.tools.stack.processes import StackError

log = logging.getLogger("newspipe.tools.stack")

LOCAL = Path(__file__).resolve().parents[3] / "deploy" / "local"
# Pinned: without a version Maven resolves the newest plugin from remote metadata on each run.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MARKER = ".complete"  # written last in a download folder: its absence means "fetch again"


def kafka_home(s: StackSettings) -> Path:
    return s.cache_dir / f"kafka-{s.kafka_version}"


def es_dist(s: StackSettings) -> Path:
    """The unzipped distribution; the zip's own top folder is kept inside it."""
    return s.cache_dir / f"elasticsearch-{s.es_version}"


def _es_dist_home(s: StackSettings) -> Path:
    return es_dist(s) / f"elasticsearch-{s.es_version}"


def fetch(s: StackSettings) -> None:
    """Download both servers unless a previous complete download is in the cache."""
    s.cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(s.cache_dir / ".lock"):  # `make run` and `make test` share one cache
        _fetch_once(kafka_home(s), f"Apache Kafka {s.kafka_version}", lambda t: _fill_kafka(s, t))
        _fetch_once(es_dist(s), f"Elasticsearch {s.es_version}", lambda t: _fill_es(s, t))


def _fetch_once(target: Path, what: str, fill: Callable[[Path], None]) -> None:
    """Fill a temp folder, mark it complete, then rename: an interrupted fetch is never taken
    for a complete one (the rename is atomic; a leftover .partial is wiped next time)."""
    if (target / MARKER).exists():
        return
    log.info("fetching %s from Maven Central into %s", what, target)
    started = time.monotonic()
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fill(tmp)
    (tmp / MARKER).touch()
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log.info("fetched %s in %.1f s", what, time.monotonic() - started)


def _fill_kafka(s: StackSettings, tmp: Path) -> None:
    _mvn(
        s,
        "-f",
        str(_local("kafka-pom.xml")),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",  # compile scope alone misses server/raft/metadata
        f"-Dkafka.version={s.kafka_version}",
        f"-DoutputDirectory={tmp / 'lib'}",
    )


def _fill_es(s: StackSettings, tmp: Path) -> None:
    artifact = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{s.es_version}:zip"
    _mvn(s, f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={tmp}")
    for archive in tmp.glob("*.zip"):
        _unzip(archive, tmp)
        archive.unlink()
    if not (tmp / _es_dist_home(s).name / "bin" / "elasticsearch").exists():
        raise StackError(f"the Elasticsearch {s.es_version} zip has no bin/elasticsearch")


def _mvn(s: StackSettings, *args: str) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("`mvn` is not on PATH: install Maven 3.6+ (apt-get install maven)")
    # -B -q: no progress bars; the Maven repo lives in the cache folder, deleted with it.
    cmd = [mvn, "-B", "-q", f"-Dmaven.repo.local={s.cache_dir / 'm2'}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        out = (done.stdout + done.stderr)[-3000:]
        raise StackError(f"mvn failed (exit {done.returncode}): {' '.join(cmd)}\n{out}")


def _unzip(archive: Path, target: Path) -> None:
    """Extract keeping Unix modes (zipfile drops them, and bin/elasticsearch must stay +x)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def _local(name: str) -> Path:
    path = LOCAL / name
    if not path.exists():
        raise StackError(f"{path} is missing: the stack needs a source checkout (pip install -e .)")
    return path


def _java_home(s: StackSettings) -> Path:
    if s.java_home:
        return s.java_home
    java = shutil.which("java")
    if not java:
        raise StackError("no `java` on PATH: install Java 17+ or set NEWSPIPE_STACK__JAVA_HOME")
    return Path(os.path.realpath(java)).parents[1]  # /usr/lib/jvm/<jdk>/bin/java -> <jdk>


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Read-only is enough for flock: a user who may not write a shared cache can still lock it.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
