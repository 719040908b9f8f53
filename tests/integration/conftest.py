"""Shared fixtures for the integration suite: the real servers that deploy/local/up.sh started.

Every test gets its own database (and, where it uses Kafka, its own topic names), so tests do
not see each other's state. Nothing here mocks PostgreSQL, Kafka or S3.
"""
import os
import shlex
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _read_stack_env():
    env = {}
    path = ROOT / "var" / "stack.env"
    if not path.exists():
        raise RuntimeError("var/stack.env is missing: run `make up` (deploy/local/up.sh) first")
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, _, val = line.partition("=")
        parts = shlex.split(val)
        env[key] = parts[0] if parts else ""
    return env


@pytest.fixture(scope="session")
def stack_env():
    return _read_stack_env()


@pytest.fixture(scope="session")
def build_dir():
    return ROOT / os.environ.get("SHIREN_BUILD_DIR", "build/debug")


@pytest.fixture(scope="session")
def bins(build_dir):
    class Bins:
        def __getattr__(self, name):
            for sub in ("bin", "itest", "bench"):
                p = build_dir / sub / name.replace("_", "-")
                if p.exists():
                    return str(p)
                p = build_dir / sub / name
                if p.exists():
                    return str(p)
            raise AttributeError(f"no binary {name} under {build_dir}")

    return Bins()


def _admin_dsn(env):
    return env["SHIREN_PG_DSN"]


@pytest.fixture
def fresh_db(stack_env):
    """A new empty database for one test; yields its DSN and drops it afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(_admin_dsn(stack_env), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    dsn = stack_env["SHIREN_PG_DSN"].replace("dbname=shiren", f"dbname={name}")
    yield dsn
    _drop_db(stack_env, name)


def _drop_db(stack_env, name):
    # Our own leftover sessions are terminated; a superuser background process (autovacuum)
    # cannot be, by this role, so the drop is retried until it has gone.
    import time
    for attempt in range(50):
        with psycopg.connect(_admin_dsn(stack_env), autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                (name,),
            )
            try:
                c.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                time.sleep(0.2)
    raise RuntimeError(f"database {name} still in use after 10 s")


@pytest.fixture
def svc_env(stack_env, fresh_db):
    """Environment for running a shiren binary against the fresh database."""
    env = dict(os.environ)
    env.update(stack_env)
    env["SHIREN_PG_DSN"] = fresh_db
    env["SHIREN_SQL_DIR"] = str(ROOT / "deploy" / "sql")
    return env


@pytest.fixture
def unique():
    """A short unique suffix for topic names, buckets, tenants."""
    return uuid.uuid4().hex[:10]


def run(cmd, env, check=True, timeout=60, input=None):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}")
    return p


@pytest.fixture
def migrated_env(svc_env, bins):
    """svc_env whose database has every migration applied by `shirenctl migrate`."""
    run([bins.shirenctl, "migrate"], svc_env)
    return svc_env
