from app.outlets.models import Outlet


def test_requests_commit_inside_the_test_transaction(client, world, session):
    response = client.post("/api/v1/outlets", json={"code": "hefei", "name": "合肥店", "city": "合肥",
                                                     "province": "安徽", "kind": "regional"},
                           headers=world.staff.headers)
    assert response.status_code == 201, response.json
    assert session.query(Outlet).filter_by(code="hefei").one()


def test_previous_test_was_rolled_back(client, session):
    assert session.query(Outlet).filter_by(code="hefei").first() is None
