"""Who may do what once people sign in: their identity, the allow-list that gives them a role, and the pages
each role may open.

People are identified by their identity token's issuer and subject (`issuer|subject`), which the provider never
reassigns; a display name or an email can change hands, so an email gives a role only where the allow-list
opts in with an `email:` entry and the provider says the address is verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

Role = Literal["analyst", "annotator"]
ROLES: tuple[Role, ...] = get_args(Role)
EMAIL_PREFIX = "email:"
# Annotators label and nothing else; analysts open every page.
ANNOTATOR_PAGES = frozenset({"labelling"})


class RolesInvalid(ValueError):
    """The allow-list cannot be read: nobody is let in until it is fixed."""


class IdentityIncomplete(ValueError):
    """A signed-in user's claims lack the issuer or subject that identify them."""


@dataclass(frozen=True)
class Identity:
    """A signed-in person as their identity token names them."""

    issuer: str
    subject: str
    name: str | None = None
    email: str | None = None
    email_verified: bool = False

    @property
    def key(self) -> str:
        """The stable identity, `issuer|subject`: what roles are given to and what records say."""
        return f"{self.issuer}|{self.subject}"

    @property
    def audit_label(self) -> str:
        """The identity with the display name beside it, for the audit trail: `issuer|subject (name)`."""
        return f"{self.key} ({self.name})" if self.name else self.key

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Identity:
        """Read an identity from ID-token claims (`iss`, `sub`, and optional `name`, `email`, `email_verified`)."""
        issuer, subject = str(claims.get("iss") or "").strip(), str(claims.get("sub") or "").strip()
        if not issuer or not subject:
            raise IdentityIncomplete("The sign-in did not say who you are (its token has no issuer or subject). "
                                     "Sign out and in again; if it persists, the identity provider is misconfigured.")
        name, email = claims.get("name"), claims.get("email")
        return cls(issuer=issuer, subject=subject, name=str(name) if name else None,
                   email=str(email) if email else None, email_verified=claims.get("email_verified") is True)


def parse_roles(entries: Mapping[str, Any]) -> dict[str, Role]:
    """Check an allow-list: each key an identity `issuer|subject` or `email:address`, each value a role.

    Raises:
        RolesInvalid: naming every bad entry and what is allowed.
    """
    problems = []
    for who, role in entries.items():
        if role not in ROLES:
            problems.append(f"{who!r}: role {role!r} should be one of {', '.join(map(repr, ROLES))}")
        if who.startswith(EMAIL_PREFIX):
            if "@" not in who[len(EMAIL_PREFIX):]:
                problems.append(f"{who!r}: an email entry should be 'email:name@domain'")
        else:
            issuer, _, subject = who.rpartition("|")
            if not issuer.strip() or not subject.strip():
                problems.append(f"{who!r}: should be 'issuer|subject' (e.g. 'https://accounts.google.com|1234') "
                                "or 'email:name@domain'")
    if problems:
        raise RolesInvalid("The roles allow-list has bad entries: " + "; ".join(problems) + ".")
    return {_normalised(who): role for who, role in entries.items()}


def load_roles(roles_json: str | None, roles_file: Path | None) -> dict[str, Role]:
    """The allow-list from `HITL_ROLES` (a JSON object) and `HITL_ROLES_FILE` (a JSON file), merged.

    Raises:
        RolesInvalid: unreadable JSON or file, bad entries, or one identity given two roles.
    """
    sources: list[tuple[str, str]] = []
    if roles_json and roles_json.strip():
        sources.append(("HITL_ROLES", roles_json))
    if roles_file is not None:
        try:
            sources.append((f"HITL_ROLES_FILE ({roles_file})", roles_file.read_text(encoding="utf-8")))
        except OSError as exc:
            raise RolesInvalid(f"HITL_ROLES_FILE cannot be read: {exc.strerror or exc} ({roles_file}).") from exc
    merged: dict[str, Role] = {}
    for source, text in sources:
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RolesInvalid(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}); it should be an "
                               'object like {"https://issuer|subject": "analyst"}.') from exc
        if not isinstance(entries, dict):
            raise RolesInvalid(f'{source} should be a JSON object like {{"https://issuer|subject": "analyst"}}.')
        for who, role in parse_roles(entries).items():
            if merged.setdefault(who, role) != role:
                raise RolesInvalid(f"{who!r} is given two roles, {merged[who]!r} and {role!r}; give it one.")
    return merged


def role_of(identity: Identity, roles: Mapping[str, Role]) -> Role | None:
    """The role the allow-list gives `identity` (by `issuer|subject`, else by a verified email); None if none."""
    if identity.key in roles:
        return roles[identity.key]
    if identity.email and identity.email_verified:
        return roles.get(_normalised(EMAIL_PREFIX + identity.email))
    return None


def may_open(role: Role, page: str) -> bool:
    """Whether `role` may open `page` (a view's name, e.g. "labelling")."""
    return role == "analyst" or page in ANNOTATOR_PAGES


def _normalised(who: str) -> str:
    # Email addresses compare case-insensitively in practice; issuers and subjects are compared exactly.
    return who.lower() if who.startswith(EMAIL_PREFIX) else who
