"""Abuse limits: per-address rate limits on login and registration, and a per-account slowdown that an
attacker cannot turn into a lockout of the real owner."""

from __future__ import annotations

from .. import factories


def login(client, email, password, address="198.51.100.7"):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       environ_overrides={"REMOTE_ADDR": address})


def test_repeated_failures_slow_the_account_down_from_that_address_only(client, world, limits_on):
    limits_on["LOGIN_RATE_LIMIT"] = "1000 per minute"
    email = world.uni.user.email
    codes = [login(client, email, "wrong-password-1").status_code for _ in range(20)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    refused = login(client, email, factories.PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["reason"] == "too_many_attempts"
    # The owner, elsewhere, is not locked out by the attacker's failures.
    assert login(client, email, factories.PASSWORD, address="203.0.113.9").status_code == 200


def test_the_slowdown_ends_and_a_success_clears_it(client, world, limits_on):
    limits_on["LOGIN_RATE_LIMIT"] = "1000 per minute"
    email = world.uni.user.email
    for _ in range(6):
        login(client, email, "wrong-password-1")
    assert login(client, email, factories.PASSWORD).status_code == 429
    # The wait is short at first (2 s after the sixth failure): waiting it out lets the owner in.
    import time

    time.sleep(2.2)
    assert login(client, email, factories.PASSWORD).status_code == 200
    assert login(client, email, "wrong-password-1").status_code == 401  # counting starts afresh


def test_per_address_limits_answer_429_in_the_error_format(client, world, limits_on):
    limits_on["LOGIN_RATE_LIMIT"] = "3 per minute"
    codes = [login(client, f"nobody{i}@example.com", "whatever-123").status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    limited = login(client, "nobody@example.com", "whatever-123")
    body = limited.get_json()
    assert limited.status_code == 429 and body["code"] == 429 and "Retry-After" in limited.headers
    assert body["request_id"] == limited.headers["X-Request-ID"]
    assert login(client, "nobody@example.com", "whatever-123", address="203.0.113.10").status_code == 401


def test_registration_is_rate_limited(client, limits_on):
    limits_on["REGISTER_RATE_LIMIT"] = "2 per minute"
    def register(i):
        body = {"email": f"firm{i}@example.com", "password": "a-long-pass-2026", "organization_name": f"公司{i}"}
        return client.post("/api/v1/auth/register", json=body)

    codes = [register(i).status_code for i in range(3)]
    assert codes == [201, 201, 429]

