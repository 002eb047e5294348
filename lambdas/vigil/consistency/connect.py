"""Pooled SQLAlchemy engines for the comparison, built on vigil.sqlconn's targets and driver
settings (read-only, statement timeout). A pool, not sqlconn's one connection: both sides and
several buckets are queried at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import URL, Engine, create_engine

from vigil import sqlconn
from vigil.consistency.sql import prepare


def engine_from_secret(engine: str, secret: Mapping[str, Any], timeout: float, pool_size: int = 4) -> Engine:
    """Raises sqlconn.SecretFormatError (a ValueError) when the secret does not say where to connect."""
    target = sqlconn.Target.from_secret(engine, secret)
    return connect(target.url(), timeout, engine, pool_size)


def connect(url: str | URL, timeout: float, engine: str | None = None, pool_size: int = 4) -> Engine:
    """An engine whose sessions run in UTC, read-only, each statement bounded by `timeout` seconds."""
    name = engine or str(url).split(":", 1)[0].split("+", 1)[0]
    return prepare(
        create_engine(url, connect_args=sqlconn.connect_args(name, timeout), pool_size=pool_size, max_overflow=0)
    )
