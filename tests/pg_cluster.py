"""A private PostgreSQL cluster for tests that need their own server: a superuser with a SCRAM password, login roles
created by the tests, a server that can be stopped and started mid-test, optional TLS.

``clinic_cluster`` (session scope) yields a ``PgCluster``: ``admin_url`` (superuser, password in the URL), ``port``,
``new_database() -> str`` (the admin URL of a fresh database), ``stop()``, ``start()`` (waits until it accepts
connections), ``log_text()`` (the server log: every statement is logged, so tests can look for what must not be
there).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPERUSER = "postgres"


def postgres_bin() -> Path:
    """The server binaries: PostgreSQL 15 where installed (Debian's layout), else the newest version there is."""
    root = Path("/usr/lib/postgresql")
    preferred = root / "15" / "bin"
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if found and int(found[-1].parent.name) >= 15:
        return found[-1]
    raise RuntimeError("PostgreSQL 15 or newer is not installed (scripts/system-deps.sh test installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One ``initdb`` cluster listening on 127.0.0.1 at a free port, owned by the ``postgres`` OS user when the
    tests run as root (the server refuses to run as root)."""

    def __init__(self, ssl_cert: Path | None = None, ssl_key: Path | None = None) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="tb-pgcluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        try:
            self._create(ssl_cert, ssl_key)
        except BaseException:
            self.destroy()
            raise

    def _create(self, ssl_cert: Path | None, ssl_key: Path | None) -> None:
        self.password = secrets.token_urlsafe(18)
        self.as_postgres = os.geteuid() == 0
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        self.root.chmod(0o700)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}", "--auth-local=trust",
            "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        conf = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.root}'",
            "password_encryption = 'scram-sha-256'",
            "max_connections = 60",
            "shared_buffers = 32MB",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "log_statement = 'all'",
            "log_min_error_statement = 'error'",
        ]
        if ssl_cert is not None and ssl_key is not None:
            for path in (ssl_cert, ssl_key):
                target = self.data / path.name
                shutil.copyfile(path, target)
                target.chmod(0o600)
                if self.as_postgres:
                    shutil.chown(target, "postgres", "postgres")
            conf += ["ssl = on", f"ssl_cert_file = '{ssl_cert.name}'", f"ssl_key_file = '{ssl_key.name}'"]
            # TLS only over TCP: a plain connection is refused.
            (self.data / "pg_hba.conf").write_text(
                "local all all trust\n"
                "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                "hostnossl all all 127.0.0.1/32 reject\n"
            )
        with (self.data / "postgresql.conf").open("a") as f:
            f.write("\n".join(conf) + "\n")
        self.start()

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str, user: str = SUPERUSER, password: str | None = None) -> str:
        pw = self.password if password is None and user == SUPERUSER else password
        auth = f"{user}:{pw}@" if pw else f"{user}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{database}"

    def server_url(self, database: str) -> str:
        """The address as a workstation stores it: no user name, no password."""
        return f"postgresql://127.0.0.1:{self.port}/{database}"

    def running(self) -> bool:
        return (
            subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
            ).returncode
            == 0
        )

    def start(self) -> None:
        """Starts the server and returns once it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = self._run(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.root), "-p", str(self.port),
            "-U", SUPERUSER, "-d", database, "-c", sql,
        )  # fmt: skip
        return done.stdout.strip()

    def new_database(self) -> str:
        """A fresh empty database; returns its administrator URL."""
        name = f"tb_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def clinic_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster for the whole test session (removed at the end)."""
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()
