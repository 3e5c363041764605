"""The allow-list gives roles to identities (issuer and subject), never to display names; emails only by opt-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.core.roles import (
    Identity,
    IdentityIncomplete,
    RolesInvalid,
    load_roles,
    may_open,
    parse_roles,
    role_of,
)

GOOGLE = "https://accounts.google.com"
ROLES = {f"{GOOGLE}|1001": "analyst", f"{GOOGLE}|2002": "annotator", "email:Ann@Example.org": "annotator"}


def _identity(subject: str, issuer: str = GOOGLE, **claims: object) -> Identity:
    return Identity.from_claims({"iss": issuer, "sub": subject, **claims})


def test_roles_go_by_issuer_and_subject_not_by_name() -> None:
    roles = parse_roles(ROLES)
    assert role_of(_identity("1001", name="Ada"), roles) == "analyst"
    assert role_of(_identity("2002", name="Ada"), roles) == "annotator"  # same name, other person
    assert role_of(_identity("1001", issuer="https://evil.example"), roles) is None  # same subject, other issuer
    assert role_of(_identity("9999", name=f"{GOOGLE}|1001"), roles) is None


def test_an_email_entry_matches_only_a_verified_email_case_insensitively() -> None:
    roles = parse_roles(ROLES)
    assert role_of(_identity("3003", email="ann@example.ORG", email_verified=True), roles) == "annotator"
    assert role_of(_identity("3003", email="ann@example.org"), roles) is None  # unverified
    assert role_of(_identity("3003", email="ann@example.org", email_verified="true"), roles) is None  # not a bool


def test_the_identity_key_and_audit_label() -> None:
    ada = _identity("1001", name="Ada Lovelace")
    assert ada.key == f"{GOOGLE}|1001"
    assert ada.audit_label == f"{GOOGLE}|1001 (Ada Lovelace)"
    assert _identity("1001").audit_label == f"{GOOGLE}|1001"


@pytest.mark.parametrize("claims", [{"sub": "1"}, {"iss": GOOGLE}, {"iss": " ", "sub": "1"}, {}])
def test_claims_without_issuer_or_subject_identify_no_one(claims: dict) -> None:
    with pytest.raises(IdentityIncomplete, match="no issuer or subject"):
        Identity.from_claims(claims)


@pytest.mark.parametrize(("entries", "match"), [
    ({f"{GOOGLE}|1": "admin"}, "role 'admin' should be one of 'analyst', 'annotator'"),
    ({"1001": "analyst"}, "should be 'issuer|subject'"),
    ({f"{GOOGLE}|": "analyst"}, "should be 'issuer|subject'"),
    ({"email:nobody": "analyst"}, "an email entry should be 'email:name@domain'"),
])
def test_bad_entries_are_named_with_what_is_allowed(entries: dict, match: str) -> None:
    with pytest.raises(RolesInvalid, match=match):
        parse_roles(entries)


def test_roles_come_from_the_setting_and_a_file_merged(tmp_path: Path) -> None:
    file = tmp_path / "roles.json"
    file.write_text(json.dumps({f"{GOOGLE}|2002": "annotator"}))
    roles = load_roles(json.dumps({f"{GOOGLE}|1001": "analyst"}), file)
    assert roles == {f"{GOOGLE}|1001": "analyst", f"{GOOGLE}|2002": "annotator"}
    assert load_roles(None, None) == {} and load_roles("  ", None) == {}


def test_unreadable_allow_lists_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(RolesInvalid, match="HITL_ROLES is not valid JSON"):
        load_roles("{'single': 'quotes'}", None)
    with pytest.raises(RolesInvalid, match="should be a JSON object"):
        load_roles('["analyst"]', None)
    with pytest.raises(RolesInvalid, match="HITL_ROLES_FILE cannot be read"):
        load_roles(None, tmp_path / "missing.json")
    file = tmp_path / "roles.json"
    file.write_text(json.dumps({f"{GOOGLE}|1001": "annotator"}))
    with pytest.raises(RolesInvalid, match="given two roles"):
        load_roles(json.dumps({f"{GOOGLE}|1001": "analyst"}), file)


def test_annotators_open_only_the_labelling_page() -> None:
    pages = ["", "home", "inbox", "ingestion", "features", "approval", "insights", "autohelper", "labelling",
             "crowd_results"]
    assert [page for page in pages if may_open("annotator", page)] == ["labelling"]
    assert all(may_open("analyst", page) for page in pages)
