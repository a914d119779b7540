"""Connections to the clinic's PostgreSQL: URLs without credentials at rest, TLS options, short timeouts."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from tbdesktop.errors import ValidationError
from tbdesktop.store.db import normalise_url

CONNECT_TIMEOUT_S = 5


def parse_server_url(url: str) -> URL:
    """A clinic server address as IT gives it (``postgresql://host:5432/clinic?sslmode=verify-full``)."""
    text = (url or "").strip()
    if not text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise ValidationError("The clinic server address must start with postgresql:// (host, port and database).")
    try:
        parsed = make_url(normalise_url(text))
    except Exception as exc:
        raise ValidationError("The clinic server address could not be read.") from exc
    if not parsed.host or not parsed.database:
        raise ValidationError("The clinic server address needs a host and a database name.")
    return parsed


def public_url(url: str) -> str:
    """The address without user name or password: what is stored and shown."""
    parsed = parse_server_url(url)._replace(username=None, password=None)
    return parsed.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://", 1)


def login_url(url: str, login: str | None, password: str | None, ca_file: str | None = None) -> URL:
    parsed = parse_server_url(url)
    if login is not None:
        parsed = parsed.set(username=login, password=password)
    query = dict(parsed.query)
    if ca_file:
        query["sslrootcert"] = ca_file
        query.setdefault("sslmode", "verify-full")
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    query.setdefault("application_name", "TherapyBridge")
    return parsed.set(query=query)


def clinic_engine(
    url: str, login: str | None = None, password: str | None = None, ca_file: str | None = None
) -> Engine:
    """An engine for one clinician's (or IT's) connection. No pool: sync connects, works and lets go."""
    return create_engine(login_url(url, login, password, ca_file), poolclass=NullPool)


def login_role(email: str) -> str:
    """The clinician's PostgreSQL login role: the lower-cased email address."""
    role = (email or "").strip().lower()
    if not role or "@" not in role or len(role.encode()) > 63:
        raise ValidationError("A clinic login needs an email address of at most 63 characters.")
    return role
