"""Every warehouse test runs on SQLite and on the real PostgreSQL (skipped when unreachable)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from warehouse.engine import connect

POSTGRES_URL = os.environ.get("MONEYTRAIL_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as failure:  # any driver or network error means: skip, saying why
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(failure).__name__}"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
        yield engine
        engine.dispose()
        return
    with postgres_schema() as engine:
        yield engine


@contextmanager
def postgres_schema() -> Iterator[sa.Engine]:
    """An engine on a fresh PostgreSQL schema, dropped afterwards (the test is skipped, saying
    why, when PostgreSQL is not reachable)."""
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    schema = f"mt_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine = connect(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
