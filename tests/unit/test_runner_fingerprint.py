"""The run skips rebuilding flows and site only when nothing they are built from changed."""

import sqlalchemy as sa

from orchestration.runner import fingerprint
from warehouse.engine import connect
from warehouse.tables import files, publishers


def test_the_fingerprint_moves_with_files_publishers_and_the_registry(tmp_path):
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    registry = tmp_path / "registry.yaml"
    registry.write_text("publishers: []\n", encoding="utf-8")
    with engine.begin() as conn:
        conn.execute(publishers.insert().values(id="p", org_id="GB-X-1", name="P", kind="council",
                                                status="ok"))
        conn.execute(files.insert().values(id=1, publisher_id="p", url="u", sha256="a" * 64,
                                           version=1, status="current"))
    first = fingerprint(engine, registry)
    assert fingerprint(engine, registry) == first

    with engine.begin() as conn:
        conn.execute(sa.update(files).values(status="withdrawn"))
    withdrawn = fingerprint(engine, registry)
    assert withdrawn != first

    with engine.begin() as conn:
        conn.execute(sa.update(publishers).values(status="error", status_message="HTTP 500"))
    failed = fingerprint(engine, registry)
    assert failed != withdrawn

    registry.write_text("publishers: []\n# renamed\n", encoding="utf-8")
    assert fingerprint(engine, registry) != failed
    engine.dispose()
