"""Password guessing is slow whoever guesses: sign-in (the API's and the admin's) is limited
by the client's real address and by the account guessed, counted in the shared cache.

Findings 1 and 2 of the red-team report (issue 13): a new X-Forwarded-For value per request
made every guess a new client, and /admin/login/ had no limit at all.
"""

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

PASSWORD = "a-long-password-1"  # the conftest `user` fixture's


def sign_in(client: APIClient, username: str = "writer", password: str = PASSWORD) -> Any:
    return client.post("/auth/token/", {"username": username, "password": password}, format="json")


def client_at(address: str) -> APIClient:
    return APIClient(raise_request_exception=False, REMOTE_ADDR=address)


@pytest.fixture
def three_sign_ins_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "auth": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


# --- the client's address is the direct peer unless proxies are declared --------------------


def test_num_proxies_defaults_to_the_direct_peer() -> None:
    assert api_settings.NUM_PROXIES == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("three_sign_ins_a_minute")
def test_a_new_x_forwarded_for_per_request_does_not_escape_the_sign_in_limit(user: Any) -> None:
    guesser = client_at("203.0.113.7")
    statuses = [
        guesser.post(
            "/auth/token/",
            {"username": "writer", "password": f"guess-{n}"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(5)
    ]

    assert statuses == [400, 400, 400, 429, 429]


@pytest.mark.django_db
@pytest.mark.usefixtures("three_sign_ins_a_minute")
def test_behind_one_declared_proxy_the_client_is_the_address_the_proxy_appended(
    user: Any,
) -> None:
    proxy = client_at("10.0.0.2")  # nginx: every request comes from it
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        for n in range(3):
            # The client's own claim comes first; nginx appends the address it saw.
            proxy.post(
                "/auth/token/",
                {"username": "writer", "password": f"guess-{n}"},
                format="json",
                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7",
            )
        guesser = proxy.post(
            "/auth/token/",
            {"username": "writer", "password": PASSWORD},
            format="json",
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )
        someone_else = proxy.post(
            "/auth/token/",
            {"username": "writer", "password": PASSWORD},
            format="json",
            HTTP_X_FORWARDED_FOR="192.0.2.9",
        )

    assert guesser.status_code == 429
    assert someone_else.status_code == 200


# --- one account's password cannot be guessed from many addresses ----------------------------


def _fail_from_many_addresses(username: str, times: int = 10) -> list[int]:
    return [
        sign_in(client_at(f"198.51.100.{n}"), username, f"guess-{n}").status_code
        for n in range(times)
    ]


@pytest.mark.django_db
def test_ten_failed_sign_ins_for_one_username_lock_it_with_429_and_retry_after(user: Any) -> None:
    assert _fail_from_many_addresses("writer") == [400] * 10

    response = sign_in(client_at("192.0.2.77"), "writer", "guess-11")

    assert response.status_code == 429, response.content
    assert response.json()["detail"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= 15 * 60


@pytest.mark.django_db
def test_a_locked_username_is_refused_even_with_the_right_password(user: Any) -> None:
    _fail_from_many_addresses("writer")

    response = sign_in(client_at("192.0.2.77"))

    assert response.status_code == 429
    assert "token" not in response.json()


@pytest.mark.django_db
def test_an_unknown_username_is_locked_exactly_like_a_real_one(user: Any) -> None:
    """Same statuses, same body shape: the lock does not tell whether the account exists."""
    real = _fail_from_many_addresses("writer", 11)
    unknown = _fail_from_many_addresses("nobody-by-this-name", 11)

    assert real == unknown == [400] * 10 + [429]
    real_body = sign_in(client_at("192.0.2.1"), "writer", "x").json()
    unknown_body = sign_in(client_at("192.0.2.1"), "nobody-by-this-name", "x").json()
    assert real_body.keys() == unknown_body.keys() == {"detail"}


@pytest.mark.django_db
def test_failures_for_one_username_do_not_lock_another(user: Any) -> None:
    get_user_model().objects.create_user(username="reader", password=PASSWORD)
    _fail_from_many_addresses("writer")

    assert sign_in(client_at("192.0.2.77"), "reader").status_code == 200


@pytest.mark.django_db
def test_a_successful_sign_in_is_not_a_failure(user: Any) -> None:
    for n in range(12):
        assert sign_in(client_at(f"198.51.100.{n}")).status_code == 200


# --- the admin's login form gets the same limits ---------------------------------------------


@pytest.fixture
def superuser(db: None) -> Any:
    return get_user_model().objects.create_superuser(username="root", password=PASSWORD)


def admin_login(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def _signed_in_to_admin(client: Client) -> bool:
    return bool(client.get("/admin/").status_code == 200)


@pytest.mark.django_db
def test_admin_login_is_locked_after_ten_wrong_passwords_for_the_account(superuser: Any) -> None:
    for n in range(10):
        admin_login(Client(REMOTE_ADDR=f"198.51.100.{n}"), "root", f"guess-{n}")

    client = Client(REMOTE_ADDR="192.0.2.77")
    admin_login(client, "root", PASSWORD)

    assert not _signed_in_to_admin(client)


@pytest.mark.django_db
def test_admin_login_is_locked_for_an_address_that_tries_many_accounts(superuser: Any) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(10):
        admin_login(client, f"someone-{n}", "guess")

    admin_login(client, "root", PASSWORD)

    assert not _signed_in_to_admin(client)


@pytest.mark.django_db
def test_admin_login_still_works_for_others(superuser: Any) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(10):
        admin_login(attacker, f"someone-{n}", "guess")

    client = Client(REMOTE_ADDR="192.0.2.77")
    admin_login(client, "root", PASSWORD)

    assert _signed_in_to_admin(client)
