"""Sign-in and roles at the page boundary: every page (and the router) asks here who is using the session.

Without an `[auth]` section in Streamlit's secrets the studio runs in laptop mode: no sign-in, everyone is an
analyst and names themselves in the sidebar. With it, people sign in through OIDC (`st.login`) and the allow-list
(`HITL_ROLES`, `HITL_ROLES_FILE`; rules in pipelines.core.roles) says what they may open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from pipelines.core.markdown import escape_markdown
from pipelines.core.roles import (
    Identity,
    IdentityIncomplete,
    Role,
    RolesInvalid,
    load_roles,
    may_open,
    role_of,
)
from pipelines.core.settings import get_settings


@dataclass(frozen=True)
class Access:
    """Who uses this session and as what; `identity` is None in laptop mode."""

    role: Role
    identity: Identity | None = None


LAPTOP = Access(role="analyst")


def sign_in_configured() -> bool:
    """Whether Streamlit's secrets have an `[auth]` section, which turns sign-in on."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all: laptop mode
        return False


def signed_in_identity() -> Identity | None:
    """The signed-in person, or None in laptop mode or before sign-in (or when the token names no one)."""
    if not sign_in_configured() or not st.user.is_logged_in:
        return None
    try:
        return Identity.from_claims(st.user.to_dict())
    except IdentityIncomplete:
        return None


def session_access() -> Access:
    """The session's access; with sign-in on, anyone not both signed in and on the allow-list sees only a
    message (and a way to sign in or out), and the page stops there."""
    if not sign_in_configured():
        return LAPTOP
    if not st.user.is_logged_in:
        st.title(":material/handshake: HITL Studio")
        st.info("Sign in to continue.", icon=":material/login:")
        if st.button("Sign in", key="access.sign_in", type="primary", icon=":material/login:"):
            st.login()
        st.stop()
    try:
        identity = Identity.from_claims(st.user.to_dict())
        role = role_of(identity, _roles())
    except (IdentityIncomplete, RolesInvalid) as exc:
        _refuse(str(exc))
    if role is None:
        _refuse(f"You are signed in as {escape_markdown(identity.audit_label)}, who is not on this studio's list "
                "of analysts and annotators. Ask an analyst to add this identity to HITL_ROLES; until then "
                "there is nothing here for you.")
    return Access(role=role, identity=identity)


def current_role() -> Role | None:
    """The session's role as of now, drawing nothing: "analyst" in laptop mode; None when not signed in, not
    on the allow-list, or when the list is unreadable. For click handlers, which run before the page's guard."""
    if not sign_in_configured():
        return LAPTOP.role
    identity = signed_in_identity()
    try:
        return None if identity is None else role_of(identity, _roles())
    except RolesInvalid:
        return None


def require_page(page: str) -> Access:
    """The guard every page calls first: the session's access, or a "not allowed" message and a stop when the
    person's role may not open `page` (e.g. an annotator opening an analyst page by its address)."""
    access = session_access()
    if not may_open(access.role, page):
        st.error(f"Not allowed: this page is for analysts, and you are signed in as an {access.role}. "
                 "Nothing on it was shown or run.", icon=":material/block:")
        st.page_link("views/labelling.py", label="Go to Crowd labelling", icon=":material/how_to_vote:")
        st.stop()
    return access


def navigation(pages: dict[str, list[st.Page]], access: Access) -> st.Page:
    """`st.navigation` showing only the pages `access` may open.

    Every page stays registered, so an address naming a page the role may not open reaches that page's own
    guard (a clear "not allowed") rather than a silent fallback to the home page; a role that may not open
    every page gets its own menu of links instead of Streamlit's, and the home address takes it to its first page.
    """
    allowed = [page for section in pages.values() for page in section if may_open(access.role, page.url_path)]
    if len(allowed) == sum(len(section) for section in pages.values()):
        return st.navigation(pages)
    chosen = st.navigation(pages, position="hidden")
    if chosen.url_path == "" and allowed:  # the default (home) page, which this role may not open
        st.switch_page(allowed[0])
    with st.sidebar:
        for page in allowed:
            st.page_link(page)
    return chosen


def identity_sidebar(access: Access) -> None:
    """Who is signed in (display name beside the identity records use) and a way to sign out."""
    assert access.identity is not None
    st.markdown(f"Signed in as **{escape_markdown(access.identity.name or access.identity.subject)}** "
                f"({access.role})")
    st.caption(f"Recorded as {escape_markdown(access.identity.key)}")
    if st.button("Sign out", key="access.sign_out", icon=":material/logout:"):
        st.logout()


def _roles() -> dict[str, Role]:
    settings = get_settings()
    return load_roles(settings.roles, settings.roles_file)


def _refuse(message: str) -> NoReturn:
    st.title(":material/handshake: HITL Studio")
    st.error(message, icon=":material/block:")
    if st.button("Sign out", key="access.sign_out", icon=":material/logout:"):
        st.logout()
    st.stop()
