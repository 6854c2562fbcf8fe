"""The statistics' cells under concurrent writers: deals recorded and listings published at once through the
API, each request's refresh job racing the others' (one runs, the rest step aside), and refreshes called
from more threads at the same time. Whatever interleaving happened, the cells' overview equals the rows'
at once, and again once every dirty unit is refreshed, with nothing left dirty."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.stats import cells, queries, rollup
from app.stats.models import StatsDirty

from .. import factories
from .conftest import concurrently

N = 24


def test_concurrent_writes_and_refreshes_leave_the_cells_equal_to_the_rows(live, live_world):
    uni, buyer = live_world.uni.org, live_world.enterprise.org
    patents = [factories.patent(uni, ipc_codes=["H01M 4/58" if i % 2 else "A01B 1/00"]).id for i in range(N)]
    drafts = [factories.listing(factories.patent(uni), "pending_review", outlet_codes=["baoshan"]).id
              for _ in range(N // 2)]
    while cells.refresh():
        pass
    # The same few patents licensed again and again, in three months: shared patents.
    bodies = [factories.deal_body([patents[i % 5]], uni, buyer, kind="nonexclusive_license", license_term_months=12,
                                  amount_fen=10_000 + i, signed_on=date(2026, 1 + i % 3, 10 + i % 15).isoformat())
              for i in range(N)]
    headers = live_world.staff.headers

    def write(i):
        with live.test_client() as client:
            if i % 3 == 2:  # publish a listing
                response = client.post(f"/api/v1/listings/{drafts[i // 3]}/approve", json={}, headers=headers)
            else:
                response = client.post("/api/v1/deals", json=bodies[i], headers={**headers, **factories.deal_key()})
            return response.status_code, response.get_json()

    def refresh(_i):
        with live.app_context():
            total = 0
            while done := cells.refresh():
                total += done
            return total

    def either(i):
        return write(i // 2) if i % 2 == 0 else refresh(i)

    results = concurrently(2 * N, either)
    writes = results[0::2]
    assert all(status in (200, 201) for status, _ in writes), writes
    for f in (queries.Filters(), queries.Filters(start=date(2026, 2, 1), end=date(2026, 2, 20))):
        assert rollup.overview(f) == queries.overview_from_rows(f)
    while cells.refresh():
        pass
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StatsDirty)) == 0
    whole = rollup.overview(queries.Filters())
    assert whole == queries.overview_from_rows(queries.Filters())
    deals = N - N // 3
    assert (whole["totals"]["deals"], whole["totals"]["patents_converted"]) == (deals, 5)
