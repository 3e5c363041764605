from __future__ import annotations

import httpx
import pytest

from pipelines.core.users import (
    MAX_USERS,
    RandomUserUnavailable,
    fetch_random_users,
    flatten_users,
    generate_fake_users,
    load_users,
    plan_requests,
)

SCHEMA_KEYS = {"gender", "name", "location", "email", "login", "dob", "registered", "phone", "cell", "id",
               "picture", "nat"}


def test_requests_are_as_few_as_the_api_allows() -> None:
    assert plan_requests(1) == [1]
    assert plan_requests(5000) == [5000]
    assert plan_requests(12_000) == [5000, 5000, 2000]
    with pytest.raises(ValueError, match=f"between 1 and {MAX_USERS}"):
        plan_requests(0)


def test_fake_users_have_the_randomuser_schema_and_are_seeded() -> None:
    users = generate_fake_users(5, seed=7)
    assert all(set(user) == SCHEMA_KEYS for user in users)
    assert set(users[0]["name"]) == {"title", "first", "last"}
    assert users == generate_fake_users(5, seed=7)
    many = generate_fake_users(2000, seed=1)
    assert {user["dob"]["age"] for user in many} == set(range(18, 81))  # every adult age, none outside it
    assert {user["registered"]["age"] for user in many} == set(range(0, 21))
    flat = flatten_users(users)
    assert {"name.first", "location.city", "location.coordinates.latitude", "dob.age"} <= set(flat.columns)


def _mock_client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_pages_share_a_seed_and_are_trimmed_to_the_count() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        size = int(request.url.params["results"])
        return httpx.Response(200, json={"results": [{"n": i} for i in range(size)]})

    users = fetch_random_users(7000, api_url="https://api.test/", client=_mock_client(handler))
    assert len(users) == 7000
    assert [p["page"] for p in seen] == ["1", "2"] and seen[0]["seed"] == seen[1]["seed"]


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "response",
    [httpx.Response(503), httpx.Response(200, json={"error": "Uh oh"}), httpx.Response(200, text="<html>"),
     httpx.Response(200, json={"results": []})],
)
def test_api_failures_raise_unavailable(response: httpx.Response) -> None:
    with pytest.raises(RandomUserUnavailable):
        fetch_random_users(2, api_url="https://api.test/", client=_mock_client(lambda request: response))


def test_load_users_falls_back_to_faker_and_reports_it() -> None:
    fallbacks = []

    def failing(count: int) -> list:
        raise RandomUserUnavailable("down")

    batch = load_users(3, fetch=failing, on_fallback=fallbacks.append)
    assert batch.source == "faker" and len(batch.users) == 3 and "Faker" in batch.note
    assert [str(e) for e in fallbacks] == ["down"]
