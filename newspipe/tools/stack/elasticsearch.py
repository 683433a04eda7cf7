"""The Elasticsearch server (a single-node cluster on 127.0.0.1): its description, its
elasticsearch.yml, its private home, the unprivileged user it runs as under root (with the grants
that user needs), the launch and the cluster-health readiness check."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import subprocess
import urllib.request
from pathlib import Path

from newspipe.config import StackSettings
from newspipe.tools.stack.download import _es_dist_home, _java_home
from newspipe.tools.stack.processes import StackError, _Launch, _running_pid, _Server

log = logging.getLogger("newspipe.tools.stack")


def _es(s: StackSettings) -> _Server:
    folder = s.state_dir / "elasticsearch"
    return _Server(
        name="elasticsearch",
        version=s.es_version,
        folder=folder,
        pidfile=folder / "es.pid",
        outfile=folder / "es.out",
        logfile=folder / "logs" / "newspipe-local.log",  # <path.logs>/<cluster.name>.log
        data_dir=folder / "data",
        address=f"http://127.0.0.1:{s.es_port}",
        ports=(
            (s.es_port, "Elasticsearch HTTP", "NEWSPIPE_STACK__ES_PORT"),
            (s.es_transport_port, "Elasticsearch transport", "NEWSPIPE_STACK__ES_TRANSPORT_PORT"),
        ),
        marker=f"-Des.path.home={folder}/",  # the node's java, not the launcher
        healthy=lambda: _es_healthy(s.es_port),
        launched_with=f"{s.es_version} {s.es_port} {s.es_transport_port} {s.es_heap}",
    )


def _es_config(s: StackSettings) -> str:
    folder = s.state_dir / "elasticsearch"
    # Only core settings: this stripped build refuses settings of modules it lacks.
    return f"""\
cluster.name: newspipe-local
node.name: node-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: {s.es_port}
transport.port: {s.es_transport_port}
# bound to 127.0.0.1 only; with security on, every client would need the generated password
xpack.security.enabled: false
# a dev disk over 90 % full would otherwise turn every index read-only
cluster.routing.allocation.disk.threshold_enabled: false
path.data: {folder / "data"}
path.logs: {folder / "logs"}
"""


def _es_home(s: StackSettings) -> Path:
    """A private ES home per version in the state folder: ES writes into config/ (its keystore),
    which the ES user must own. Files are hard links into the cache (no 100 MB copy, ~0.1 s),
    except config/, which is a real copy so that chown never reaches the cache."""
    home = s.state_dir / "elasticsearch" / f"home-{s.es_version}"
    for old in home.parent.glob("home*"):  # other versions', half-made or pre-versioned ones:
        if old != home:  # unused, since ES is not running (we are about to start it)
            shutil.rmtree(old, ignore_errors=True)
    if home.exists():
        return home
    tmp = home.with_name(home.name + ".partial")
    src = _es_dist_home(s)
    shutil.copytree(src, tmp, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("config"))
    shutil.copytree(src / "config", tmp / "config")
    tmp.rename(home)
    return home


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem
        shutil.copy2(src, dst)
    return dst


def _es_user(s: StackSettings) -> str | None:
    """ES refuses to run as root: as root, run it as an unprivileged system user (made once)."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        pwd.getpwnam(s.es_user)
        return s.es_user
    log.info("creating system user %r to run Elasticsearch", s.es_user)
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    done = subprocess.run([*cmd, s.es_user], capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"useradd {s.es_user} failed: {done.stderr.strip()}")
    return s.es_user


def _grant(folder: Path, home: Path, user: str) -> None:
    """Let `user` write what ES writes (its folder, data, logs, config) and traverse (x, not r)
    every parent folder. Trees already owned by the user are not walked again."""
    pw = pwd.getpwnam(user)
    for tree in (folder / "data", folder / "logs", home / "config"):
        if tree.stat().st_uid != pw.pw_uid:
            for root, dirs, files in os.walk(tree):
                for name in (*dirs, *files):
                    os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
        os.chown(tree, pw.pw_uid, pw.pw_gid)
    for own in (folder, home):  # the pid file goes in folder; home only holds dirs made by us
        os.chown(own, pw.pw_uid, pw.pw_gid)
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _es_command(s: StackSettings, home: Path, pidfile: Path, user: str | None) -> list[str]:
    # `env` rather than Popen(env=...): runuser would not pass our environment through as is.
    cmd = [
        "env",
        "-u",
        "ES_PATH_CONF",  # an exported one would point ES at another config
        f"ES_JAVA_HOME={_java_home(s)}",  # the integ-test zip bundles no JDK
        f"ES_JAVA_OPTS=-Xms{s.es_heap} -Xmx{s.es_heap}",  # else it takes half the machine
        str(home / "bin" / "elasticsearch"),
        "-d",  # daemonize: returns once the node has started (or failed)
        "-p",
        str(pidfile),
    ]
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def _launch_es(s: StackSettings) -> _Launch:
    srv = _es(s)
    home = _es_home(s)
    (home / "config" / "elasticsearch.yml").write_text(_es_config(s))
    for sub in (srv.folder / "data", srv.folder / "logs"):
        sub.mkdir(parents=True, exist_ok=True)
    user = _es_user(s)
    if user:
        _grant(srv.folder, home, user)
    with srv.outfile.open("ab") as out:  # the launcher returns once the node is up (or failed)
        launcher = subprocess.Popen(
            _es_command(s, home, srv.pidfile, user),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,  # Ctrl-C in this terminal must not reach the node
        )

    def alive() -> bool:  # booting (launcher still waiting), or launched and running
        code = launcher.poll()
        return code is None or (code == 0 and _running_pid(srv) is not None)

    return _Launch(srv, alive, launcher.pid)


def _es_healthy(port: int) -> bool:
    # GET / answers 405 on this build: cluster health is the readiness check.
    url = f"http://127.0.0.1:{port}/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:  # refused, timeout, or HTTP 408 (not yellow yet)
        return False
