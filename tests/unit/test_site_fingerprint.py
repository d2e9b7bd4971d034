"""A publisher's site database is rebuilt only when what it is built from changed: its row,
its file versions, when its files appeared, or the token the flows step renews for it."""

import sqlalchemy as sa

from warehouse.engine import connect
from warehouse.site import fingerprints
from warehouse.tables import files, publishers, resolution_state


def test_a_publishers_fingerprint_moves_with_its_own_data_alone(tmp_path):
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.begin() as conn:
        for ident in ("p", "q"):
            conn.execute(publishers.insert().values(id=ident, org_id=f"GB-X-{ident}", name=ident,
                                                    kind="council", status="ok"))
        conn.execute(files.insert().values(id=1, publisher_id="p", url="u", sha256="a" * 64,
                                           version=1, status="current"))
    first = fingerprints(engine, ["p", "q"], {})
    assert fingerprints(engine, ["p", "q"], {}) == first

    def moved(**changes) -> set[str]:
        now = fingerprints(engine, ["p", "q"], changes.get("published", {}))
        return {p for p in now if now[p] != first[p]}

    with engine.begin() as conn:
        conn.execute(sa.update(files).values(status="withdrawn"))
    assert moved() == {"p"}
    with engine.begin() as conn:
        conn.execute(sa.update(files).values(status="current"))
        conn.execute(sa.update(publishers).where(publishers.c.id == "q")
                     .values(status="error", status_message="HTTP 500"))
    assert moved() == {"q"}
    with engine.begin() as conn:
        conn.execute(sa.update(publishers).where(publishers.c.id == "q")
                     .values(status="ok", status_message=None))
    assert moved(published={"p": {"u": "2024-05-01"}}) == {"p"}
    with engine.begin() as conn:
        conn.execute(resolution_state.insert().values(publisher_id="q", files_digest="",
                                                      site_token="t1", personal_spellings="[]"))
    assert moved() == {"q"}
    engine.dispose()
