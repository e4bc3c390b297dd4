"""Real servers for the scale-out tests: a PostgreSQL cluster and a Dask scheduler with workers.

Each is started in a temporary directory for one test session and stopped at teardown. Missing
software skips the test locally and fails it in CI (``CI`` or ``RISKOPT_CI`` set; ``.ci/run``
sets it): `make test` installs Debian's postgresql, the venv holds dask and psycopg.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("RISKOPT_CI"))


def missing(reason: str) -> None:
    """Skip locally, fail in CI: a scale-out promise must not go untested there."""
    if in_ci():
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


# ------------------------------------------------------------------------------------ PostgreSQL
def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _server_user() -> list[str]:
    """postgres refuses to run as root: run its commands as the package's ``postgres`` user."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    return []


@dataclass
class Postgres:
    """A PostgreSQL cluster listening only on a Unix socket in ``root`` (no TCP port to collide on)."""

    root: Path
    bindir: Path
    prefix: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://riskopt@/{database}?host={self.root}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=str(self.root), user="riskopt", dbname="postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    bindir = _pg_bindir()
    if bindir is None:
        missing("PostgreSQL is not installed (`make test` installs Debian's postgresql package)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("the PostgreSQL driver psycopg is not installed (pip install -e .)")
    prefix = _server_user()
    root = Path(tempfile.mkdtemp(prefix="riskopt-pg-"))
    if prefix:
        shutil.chown(root, user=prefix[2])
    run = dict(capture_output=True, text=True, timeout=120)
    init = subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "riskopt",
                           "--auth=trust", "-E", "UTF8", "--no-sync"], **run)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.strip()[-500:]}")
    opts = f"-c listen_addresses='' -k {root} -c fsync=off -c max_connections=50"
    start = subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"),
                            "-w", "-o", opts, "start"], **run)
    if start.returncode != 0:
        log = (root / "log").read_text(errors="replace")[-500:] if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stderr.strip()} {log}")
    return Postgres(root=root, bindir=bindir, prefix=prefix)


# ------------------------------------------------------------------------------------------ Dask
@dataclass
class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes on loopback, found through a scheduler file."""

    root: Path
    address: str
    procs: list[subprocess.Popen]

    def stop(self) -> None:
        for p in reversed(self.procs):  # workers first, then the scheduler
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dask(n_workers: int = 2, *, env: dict[str, str] | None = None) -> DaskCluster:
    dask = Path(sys.executable).with_name("dask")
    cmd = [str(dask)] if dask.exists() else [sys.executable, "-m", "dask"]
    root = Path(tempfile.mkdtemp(prefix="riskopt-dask-"))
    sched_file = root / "scheduler.json"
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    logs = [open(root / f"{name}.log", "wb") for name in ["scheduler", *(f"worker{i}" for i in range(n_workers))]]
    procs = [subprocess.Popen([*cmd, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], stdout=logs[0], stderr=subprocess.STDOUT,
                              env=env, cwd=root)]
    cluster = DaskCluster(root=root, address="", procs=procs)
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start: "
                                   + (root / "scheduler.log").read_text(errors="replace")[-500:])
            time.sleep(0.2)
        for i in range(n_workers):
            procs.append(subprocess.Popen(
                [*cmd, "worker", "--scheduler-file", str(sched_file), "--nworkers", "1", "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(root / f"w{i}")],
                stdout=logs[i + 1], stderr=subprocess.STDOUT, env=env, cwd=root))
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout="30s") as c:
            c.wait_for_workers(n_workers, timeout=90)
            cluster.address = c.scheduler.address
    except BaseException:
        cluster.stop()
        raise
    finally:
        for f in logs:
            f.close()
    return cluster
