"""With the engine down, writes succeed and wait in the outbox; search says 503; nothing is lost."""

import socket

import pytest
import sqlalchemy as sa
from osmem_server import OsmemServer

from app.indexing.indexer import drain, reindex
from app.indexing.outbox import OutboxEvent

from .. import factories
from ..search.osmem_transport import elastic_backend


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_server():
    port = free_port()
    servers = [OsmemServer.start(addr=f"127.0.0.1:{port}", japanese=False)]
    yield port, servers
    for server in servers:
        server.close()


def test_engine_outage_and_recovery(app, client, world, session, own_server):
    port, servers = own_server
    backend = elastic_backend(f"http://127.0.0.1:{port}", prefix="outage")
    original = app.extensions["search_backend"]
    app.extensions["search_backend"] = backend
    try:
        before = factories.listing(factories.patent(world.uni.org, title="一种钠离子电池正极材料"), "listed")
        drain()
        assert client.get("/api/v1/search/listings?q=钠离子").get_json()["total"] == 1

        servers[0].close()  # the engine goes down

        patent = factories.patent(world.uni.org, title="一种盾构机刀盘", ipc_codes=["E21D 9/06"])
        created = client.post("/api/v1/listings", json={"patent_id": patent.id, "mode": "assignment",
                                                        "price_fen": 1_000_000}, headers=world.uni.headers)
        assert created.status_code == 201  # the write succeeds
        listing_id = created.get_json()["id"]
        assert client.post(f"/api/v1/listings/{listing_id}/submit", headers=world.uni.headers).status_code == 200
        assert client.post(f"/api/v1/listings/{listing_id}/approve", headers=world.staff.headers).status_code == 200

        waiting = session.scalars(sa.select(OutboxEvent)).all()
        assert waiting and all(row.attempts >= 1 and row.last_error for row in waiting)
        down = client.get("/api/v1/search/listings?q=盾构机")
        assert down.status_code == 503 and down.get_json()["reason"] == "search_unavailable"
        assert client.get("/api/v1/search/suggest?q=盾构").status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["status"] == "degraded"
        assert ready.get_json()["checks"]["search"]["backlog"]["pending"] == len(waiting)

        servers.append(OsmemServer.start(addr=f"127.0.0.1:{port}", japanese=False))  # back again, empty

        assert drain() == len(waiting)
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0
        found = client.get("/api/v1/search/listings?q=盾构机").get_json()
        assert [item["listing_id"] for item in found["items"]] == [listing_id]
        # osmem kept nothing across the restart; a reindex restores the rest (a real cluster keeps it).
        reindex()
        assert {i["listing_id"] for i in client.get("/api/v1/search/listings").get_json()["items"]} == {
            before.id, listing_id}
        assert client.get("/readyz").get_json()["status"] == "ready"
    finally:
        app.extensions["search_backend"] = original


def test_the_drain_lock_belongs_to_the_database(app, tmp_path):
    """One drainer per database: two apps on different databases (two test runs, two deployments on one
    host) never wait for each other's drainer; on the same database they take turns."""
    from app import create_app
    from app.extensions import db
    from app.indexing.indexer import drain_lock

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL drainers take an advisory lock in their own database")
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.db'}",
                        "SEARCH_PATH": str(tmp_path / "other-search.sqlite3"), "MATCHING_MODEL_DIR": None})
    with app.app_context(), drain_lock() as here:
        assert here
        with app.app_context(), drain_lock() as same_database:
            assert not same_database
        with other.app_context(), drain_lock() as elsewhere:
            assert elsewhere
