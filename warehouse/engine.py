"""Connect to the warehouse named by one URL setting: SQLite under ./data by default."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from warehouse.tables import RETIRED_INDEXES, metadata

URL_SETTING = "MONEYTRAIL_WAREHOUSE_URL"


def warehouse_url(data_dir: Path) -> str:
    """MONEYTRAIL_WAREHOUSE_URL if set, else a SQLite file DATA_DIR/warehouse.db."""
    return os.environ.get(URL_SETTING) or f"sqlite:///{Path(data_dir).resolve() / 'warehouse.db'}"


def connect_url(url: str) -> str:
    """The SQLAlchemy URL for a warehouse URL: a bare postgresql:// URL uses psycopg 3."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def connect(url: str, **engine_options) -> sa.Engine:
    """An engine with the warehouse tables created. A bare postgresql:// URL uses psycopg 3."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(connect_url(url), **engine_options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    _add_new_columns(engine)
    _upgrade_indexes(engine)
    return engine


def _upgrade_indexes(engine: sa.Engine) -> None:
    """Give a warehouse made by an earlier version the indexes of this one (create_all makes
    a table's indexes only with the table) and drop those it no longer keeps, which every
    insert would otherwise go on maintaining."""
    with engine.begin() as conn:
        for name in RETIRED_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def _add_new_columns(engine: sa.Engine) -> None:
    """Give a warehouse made by an earlier version the nullable columns added since (such as
    payments.personal_data), empty; create_all makes missing tables, never missing columns.
    Rows loaded before stay as they were until their file is loaded again."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    # WAL lets the site be read while a load writes; foreign keys keep files and rows together.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
