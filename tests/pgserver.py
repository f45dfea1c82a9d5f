"""A throwaway PostgreSQL server for the tests: `initdb` and `pg_ctl` in a temporary folder, on a
free local port, trusting local connections, stopped (and its folder removed) afterwards.
scripts/test.sh installs Debian's postgresql when it is missing. PostgreSQL will not run as root,
so as root the server runs as the `postgres` user the package creates."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.serve import free_port


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (newest installed version), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name))
    return Path(folders[-1]) if folders else None


RUNNING: dict[str, tuple[Path, Path]] = {}  # base address -> (binaries, data folder), while it runs


def restart(base: str) -> None:
    """Restart a running test server (fast shutdown: every client's connection is cut)."""
    bin_dir, data = RUNNING[base]
    command = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "log"), "-m", "fast", "-w", "restart"]
    # The server's output goes to its log: a pipe it inherited would never close.
    subprocess.run(_as_server_user(command), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def server() -> Iterator[str]:
    """Start a server; yield its address (`postgresql://postgres@127.0.0.1:PORT`); stop it."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: scripts/test.sh installs Debian's postgresql")
    folder = Path(tempfile.mkdtemp(prefix="carelab-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    run = lambda *args: subprocess.run(_as_server_user(list(args)), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} -c max_connections=200"
        options += " -c fsync=on -c synchronous_commit=on"  # an acknowledged save is on disk, as in production
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        base = f"postgresql://postgres@127.0.0.1:{port}"
        RUNNING[base] = (bin_dir, data)
        try:
            yield base
        finally:
            RUNNING.pop(base, None)
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                           capture_output=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _admin(base: str):
    import psycopg

    return psycopg.connect(f"{base}/postgres", autocommit=True)


def new_database(base: str) -> str:
    """A fresh, empty database on the server; its address."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _admin(base) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_database(address: str) -> None:
    base, name = address.rsplit("/", 1)
    with _admin(base) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
