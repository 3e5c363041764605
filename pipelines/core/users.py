"""User records in the randomuser.me schema: fetch them, or generate look-alikes offline."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx
import pandas as pd

# randomuser.me serves at most this many users in one response.
RANDOMUSER_MAX_RESULTS_PER_REQUEST = 5000
MAX_USERS = 20_000
YEAR = timedelta(days=365.2425)  # a mean Gregorian year: the ages of dates counted back from today

UserSource = Literal["randomuser", "faker"]

SOURCE_NOTES: dict[UserSource, str] = {
    "randomuser": "Fetched from the randomuser.me API.",
    "faker": (
        "The randomuser.me API could not be reached, so these users were generated offline with Faker "
        "in the same schema. They are synthetic."
    ),
}


class RandomUserUnavailable(RuntimeError):
    """The randomuser API could not be reached or answered with something unusable."""


@dataclass(frozen=True)
class UserBatch:
    """Users in the randomuser.me record schema, and where they came from."""

    users: list[dict[str, Any]]
    source: UserSource

    @property
    def note(self) -> str:
        return SOURCE_NOTES[self.source]


def plan_requests(number_of_users: int) -> list[int]:
    """Split a user count into the fewest randomuser requests (page sizes)."""
    if not 1 <= number_of_users <= MAX_USERS:
        raise ValueError(f"number_of_users must be between 1 and {MAX_USERS} (got {number_of_users}).")
    pages = math.ceil(number_of_users / RANDOMUSER_MAX_RESULTS_PER_REQUEST)
    sizes = [RANDOMUSER_MAX_RESULTS_PER_REQUEST] * (pages - 1)
    return sizes + [number_of_users - RANDOMUSER_MAX_RESULTS_PER_REQUEST * (pages - 1)]


def fetch_random_users(
    number_of_users: int, *, api_url: str, timeout_seconds: float = 10.0, client: httpx.Client | None = None
) -> list[dict[str, Any]]:
    """Fetch users from the randomuser API in as few requests as it allows.

    Pages after the first share one seed so that they continue the same sequence instead of repeating users.

    Raises:
        RandomUserUnavailable: the API is unreachable, answered an error, or returned too few records.
    """
    sizes = plan_requests(number_of_users)
    seed = secrets.token_hex(8)
    owns_client = client is None
    http = client or httpx.Client(timeout=timeout_seconds)
    users: list[dict[str, Any]] = []
    try:
        for page, size in enumerate(sizes, start=1):
            params: dict[str, Any] = {"results": size}
            if len(sizes) > 1:
                # With a seed, `results` must stay the same on every page for pages to line up.
                params = {"results": RANDOMUSER_MAX_RESULTS_PER_REQUEST, "seed": seed, "page": page}
            try:
                response = http.get(api_url, params=params)
                response.raise_for_status()
                payload = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise RandomUserUnavailable(f"randomuser API at {api_url} failed: {exc}") from exc
            if "error" in payload:
                raise RandomUserUnavailable(f"randomuser API answered an error: {payload['error']}")
            users.extend(payload.get("results", [])[:size])
    finally:
        if owns_client:
            http.close()
    if len(users) < number_of_users:
        raise RandomUserUnavailable(f"randomuser API returned {len(users)} of {number_of_users} users.")
    return users


def generate_fake_users(number_of_users: int, *, seed: int | None = None) -> list[dict[str, Any]]:
    """Generate users offline with Faker, in the randomuser.me record schema.

    Dates of birth and registration count back from the start of today (UTC), so a seed gives the same users
    all day: counted from the moment of the call, two calls a second apart drew different dates from one seed.
    """
    from faker import Faker  # imported lazily: Faker's locale data takes a moment to load

    plan_requests(number_of_users)  # same bounds as the API path
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES"])
    if seed is not None:
        fake.seed_instance(seed)
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return [_fake_user(fake, today) for _ in range(number_of_users)]


_NATIONALITIES = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES"}
_COUNTRIES = {"US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France", "ES": "Spain"}


def _fake_user(fake: Any, today: datetime) -> dict[str, Any]:
    locale = fake.random_element(list(_NATIONALITIES))
    local = fake[locale]
    nat = _NATIONALITIES[locale]
    gender = fake.random_element(["female", "male"])
    first = local.first_name_female() if gender == "female" else local.first_name_male()
    last = local.last_name()
    dob = _years_before(fake, today, 18, 80)
    registered = _years_before(fake, today, 0, 20)
    username = f"{first}{last}{fake.random_int(10, 999)}".lower()
    offset_hours = fake.random_int(-12, 12)
    password = fake.password(length=10, special_chars=False)
    return {
        "gender": gender,
        "name": {"title": "Ms" if gender == "female" else "Mr", "first": first, "last": last},
        "location": {
            "street": {"number": fake.random_int(1, 9999), "name": local.street_name()},
            "city": local.city(),
            "state": _state(local),
            "country": _COUNTRIES[nat],
            "postcode": local.postcode(),
            "coordinates": {"latitude": str(fake.latitude()), "longitude": str(fake.longitude())},
            "timezone": {"offset": f"{offset_hours:+d}:00", "description": fake.timezone()},
        },
        "email": f"{first}.{last}@example.com".lower(),
        "login": {
            "uuid": fake.uuid4(),
            "username": username,
            "password": password,
            "salt": fake.pystr(min_chars=8, max_chars=8),
            "md5": fake.md5(),
            "sha1": fake.sha1(),
            "sha256": fake.sha256(),
        },
        "dob": {"date": _iso(dob), "age": _years_between(dob, today)},
        "registered": {"date": _iso(registered), "age": _years_between(registered, today)},
        "phone": local.phone_number(),
        "cell": local.phone_number(),
        "id": {"name": "SSN" if nat == "US" else "", "value": local.ssn() if nat == "US" else None},
        "picture": _pictures(gender, fake.random_int(0, 99)),
        "nat": nat,
    }


def _state(local: Any) -> str:
    for provider in ("state", "administrative_unit", "region"):
        if hasattr(local, provider):
            return str(getattr(local, provider)())
    return ""


def _years_before(fake: Any, today: datetime, fewest: int, most: int) -> datetime:
    """A moment between `most` and `fewest` years before `today` (both ages included), to the millisecond."""
    year_ms = YEAR / timedelta(milliseconds=1)
    back_ms = fake.random_int(math.ceil(fewest * year_ms), math.floor((most + 1) * year_ms) - 1)
    return today - timedelta(milliseconds=back_ms)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _years_between(start: datetime, end: datetime) -> int:
    return int((end - start) / YEAR)


def _pictures(gender: str, index: int) -> dict[str, str]:
    folder = "women" if gender == "female" else "men"
    base = "https://randomuser.me/api/portraits"
    return {
        "large": f"{base}/{folder}/{index}.jpg",
        "medium": f"{base}/med/{folder}/{index}.jpg",
        "thumbnail": f"{base}/thumb/{folder}/{index}.jpg",
    }


def flatten_users(users: list[dict[str, Any]]) -> pd.DataFrame:
    """Flatten nested user records into one column per leaf field (`name.first`, `location.city`, ...)."""
    if not users:
        return pd.DataFrame()
    return pd.json_normalize(users, sep=".")


def load_users(
    number_of_users: int,
    fetch: Callable[[int], list[dict[str, Any]]],
    on_fallback: Callable[[Exception], None] | None = None,
) -> UserBatch:
    """Fetch users, falling back to Faker users of the same schema when the API is unavailable."""
    try:
        return UserBatch(users=fetch(number_of_users), source="randomuser")
    except RandomUserUnavailable as exc:
        if on_fallback is not None:
            on_fallback(exc)
        return UserBatch(users=generate_fake_users(number_of_users), source="faker")
