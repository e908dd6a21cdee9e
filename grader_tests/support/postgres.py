"""A throwaway PostgreSQL server for the tests: ``with postgres_server() as url: ...``.

``initdb`` of a cluster in a temporary folder, started with ``pg_ctl`` on a free loopback port (127.0.0.1 only,
trust authentication, its unix socket inside the folder, fsync off), and stopped and deleted afterwards, also
when the test fails. The URL names the cluster's superuser, ``postgres``, who may create databases.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as the system user ``postgres``
(Debian's package creates it), or, if there is none, as ``coursekit-postgres``, created with
``useradd --system``. A normal user runs it as themselves. The binaries come from ``pg_config --bindir``, then
``/usr/lib/postgresql/<newest>/bin`` (Debian), then PATH. Without them the calling test is skipped; that is the
only skip.
"""
import contextlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

SKIP_REASON = "PostgreSQL server binaries not found: apt-get install postgresql"
SUPERUSER = "postgres"
SYSTEM_USERS = ("postgres", "coursekit-postgres")  # reused in this order when run as root; the last is created
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
SETTINGS = {  # appended to the cluster's postgresql.conf; the port is given when starting
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": None,  # the cluster's folder, set below
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "shared_buffers": "32MB",
}


def has_server_binaries(folder):
    return folder is not None and all(os.access(Path(folder) / name, os.X_OK) for name in SERVER_BINARIES)


def find_bindir():
    """The folder of initdb, pg_ctl and postgres, or None."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                             timeout=30).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass

    def version(folder):
        return [int(part) for part in re.findall(r"\d+", folder.parent.name)]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)  # /usr/local/bin/initdb may link to the real one
    return next((Path(folder) for folder in candidates if folder and has_server_binaries(folder)), None)


def server_user():
    """The passwd entry the server runs as: ourselves, or, as root, an unprivileged system user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in SYSTEM_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", SYSTEM_USERS[-1]], check=True, capture_output=True)
    return pwd.getpwnam(SYSTEM_USERS[-1])


def reachable_tempdir():
    """The temporary folder, if every folder above it lets others through (the server user must reach its
    cluster), else /tmp."""
    folder = Path(tempfile.gettempdir()).resolve()
    if all(path.stat().st_mode & stat.S_IXOTH for path in [folder, *folder.parents]):
        return folder
    return Path("/tmp")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_server(bindir=None, attempts=3):
    """Start a PostgreSQL server; yield ``postgresql://postgres@127.0.0.1:PORT/postgres``; stop and delete it.

    ``bindir`` overrides where the binaries are looked for; if they are missing there (or nowhere by default),
    the test is skipped with SKIP_REASON."""
    bindir = Path(bindir) if bindir is not None else find_bindir()
    if not has_server_binaries(bindir):
        pytest.skip(SKIP_REASON)
    user = server_user()
    as_user = {}
    if os.geteuid() != user.pw_uid:
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    folder = Path(tempfile.mkdtemp(prefix="coursekit-pg-", dir=reachable_tempdir()))
    data, log = folder / "data", folder / "server.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(HOME=str(folder), LC_ALL="C", LANG="C")

    def run(program, *arguments):  # as the server's user
        return subprocess.run([str(bindir / program), *arguments], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, **as_user)

    def failure(what, process):
        server_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        return RuntimeError(f"{what} failed ({process.returncode}):\n{process.stdout}{process.stderr}\n"
                            f"--- {log}:\n{server_log}")
    started = False
    try:
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chmod(folder, 0o700)
        process = run("initdb", "--pgdata", str(data), "--username", SUPERUSER, "--auth", "trust",
                      "--encoding", "UTF8", "--locale", "C", "--no-sync")
        if process.returncode:
            raise failure("initdb", process)
        settings = dict(SETTINGS, unix_socket_directories=f"'{folder}'")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# coursekit tests\n" + "".join(f"{key} = {value}\n" for key, value in settings.items()))
        for attempt in range(attempts):  # another process may take the free port before the server does
            port = free_port()
            process = run("pg_ctl", "start", "--pgdata", str(data), "--log", str(log), "--wait", "--timeout", "60",
                          "-o", f"-p {port}")
            if not process.returncode:
                started = True
                break
            if attempt == attempts - 1 or "Address already in use" not in log.read_text(errors="replace"):
                raise failure("pg_ctl start", process)
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        try:
            if started:
                process = run("pg_ctl", "stop", "--pgdata", str(data), "--mode", "fast", "--wait", "--timeout", "60")
                if process.returncode:
                    run("pg_ctl", "stop", "--pgdata", str(data), "--mode", "immediate", "--wait")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
