"""Pooled SQLAlchemy engines for the comparison, built on vigil.sqlconn's targets and driver
settings (read-only, statement timeout). A pool, not sqlconn's one connection: both sides and
several buckets are queried at once.

Errors go through sqlconn's own wrapping (`masking`): one line, the password masked, the driver's
exception dropped, as for kind sql. A run's reason reaches e-mails, and driver messages may echo a
DSN or a setting's value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from vigil import sqlconn
from vigil.consistency.sql import OnError, prepare


def engine_from_secret(
    engine: str, secret: Mapping[str, Any], timeout: float, pool_size: int = 4
) -> tuple[Engine, OnError]:
    """The engine and what its errors become (sqlconn.SqlError, password masked). Raises
    sqlconn.SecretFormatError (a ValueError) when the secret does not say where to connect."""
    target = sqlconn.Target.from_secret(engine, secret)
    return connect(target.url(), timeout, engine, pool_size), masking(target)


def masking(target: sqlconn.Target) -> OnError:
    """SQLAlchemy/driver error → sqlconn.SqlError (code connect | timeout | read-only | query)."""

    def wrap(exc: SQLAlchemyError, connecting: bool) -> Exception:
        # sqlconn keeps its one wrapping private; calling it keeps both kinds masking alike.
        return sqlconn.sql_error(exc, target, connecting=connecting)

    return wrap


def connect(url: str | URL, timeout: float, engine: str | None = None, pool_size: int = 4) -> Engine:
    """An engine whose sessions run in UTC, read-only, each statement bounded by `timeout` seconds."""
    name = engine or str(url).split(":", 1)[0].split("+", 1)[0]
    return prepare(
        create_engine(url, connect_args=sqlconn.connect_args(name, timeout), pool_size=pool_size, max_overflow=0)
    )
