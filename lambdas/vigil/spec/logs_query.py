"""Kind `logs_query`: a CloudWatch Logs Insights query on a schedule; its number against a threshold.

The checker runs the query over the last `window` (ending INGESTION_DELAY ago), reads one number
from the result and emits it as QueryValue; the `value` alarm compares it with the threshold. When
the number breaches, a second, cheap query fetches up to `samples` of the lines the query's own
`filter` commands select, for the notification to quote.

The query is split into its commands here, at load time, so a query vigil cannot take apart (an
unterminated quote or regex, an empty command) is a catalog error, not a page at 3 am.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from vigil.result import MAX_SAMPLES
from vigil.spec.common import (
    CHECKER_MISSING_DATA,
    AlarmRule,
    CheckBase,
    Comparison,
    Duration,
    Signal,
    checker_signals,
    format_duration,
    worded,
)
from vigil.spec.log_pattern import LOG_GROUP_NAME

VALUE = "value"
VALUE_METRIC = "QueryValue"
MAX_LOG_GROUPS = 50  # StartQuery's logGroupNames takes at most 50
MAX_QUERY_LENGTH = 10000  # StartQuery's queryString limit
MAX_WINDOW = 86400
# Log events reach Logs Insights a little after they happen: the window ends this long ago, so a
# line logged just before a run is counted by the next run instead of being missed by both.
INGESTION_DELAY = 60

# Commands that select or shape single lines; only these (before the first stats) carry over into
# the sample query. sort, limit, dedup, display and the like would change which lines are quoted.
LINE_COMMANDS = frozenset({"filter", "fields", "parse", "unmask"})
# After these words (or an operator) a '/' opens a regex literal rather than dividing.
_REGEX_AFTER = frozenset({"like", "filter", "parse", "and", "or", "not", "in"})
_QUOTES = "\"'`"

LogGroupName = Annotated[str, Field(pattern=LOG_GROUP_NAME)]


def split_commands(query: str) -> list[str]:
    """The query's commands, split at the pipes outside quotes and regex literals; raises ValueError."""
    commands: list[str] = []
    current: list[str] = []
    closing: str | None = None  # the character that ends the quote or regex we are in
    escaped = False
    for char in query:
        if closing is not None:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == closing:
                closing = None
            continue
        if char == "|":
            commands.append("".join(current).strip())
            current = []
            continue
        if char in _QUOTES or (char == "/" and _regex_may_start("".join(current))):
            closing = char
        current.append(char)
    if closing is not None:
        what = "regex" if closing == "/" else f"{closing} quote"
        raise ValueError(f"query: unterminated {what}")
    commands.append("".join(current).strip())
    if any(not command for command in commands):
        raise ValueError("query: empty command (two pipes in a row, or a pipe at the start or end)")
    return commands


def _regex_may_start(before: str) -> bool:
    text = before.rstrip()
    if not text or text[-1] in "=~(,!<>":
        return True
    word = re.search(r"(\w+)$", text)
    return word is not None and word.group(1).lower() in _REGEX_AFTER


def verb(command: str) -> str:
    return command.split(None, 1)[0].lower()


def sample_query(query: str, samples: int, with_log_group: bool) -> str | None:
    """The query that quotes the newest lines the check counts; None when it selects no lines itself.

    Only the line commands before the first stats are kept: without a `filter` among them the
    "samples" would be any recent lines, which would mislead more than help.
    """
    kept = []
    for command in split_commands(query):
        if verb(command) == "stats":
            break
        if verb(command) in LINE_COMMANDS:
            kept.append(command)
    if not any(verb(command) == "filter" for command in kept):
        return None
    fields = "@timestamp, @log, @message" if with_log_group else "@timestamp, @message"
    return " | ".join([*kept, f"fields {fields}", "sort @timestamp desc", f"limit {samples}"])


class LogsQueryCheck(CheckBase):
    """Runs a Logs Insights query every cadence and alarms on the number it returns."""

    signals: ClassVar = checker_signals(
        Signal(
            name=VALUE,
            metric=VALUE_METRIC,
            unit="",
            summary="the Logs Insights query's number crossed its threshold",
            # Any match alarms unless the catalog says otherwise: the usual query counts errors.
            default=AlarmRule.sustained(0, Comparison.gt, 1, CHECKER_MISSING_DATA),
            period_follows_cadence=True,
        )
    )

    kind: Literal["logs_query"]
    log_groups: list[LogGroupName] = Field(
        min_length=1, max_length=MAX_LOG_GROUPS, description="log group names to query (1 to 50)"
    )
    query: str = Field(
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        description='Logs Insights query, such as: filter level = "ERROR" | stats count(*) as errors',
    )
    value_field: str | None = Field(
        default=None,
        pattern=worded(
            r"^[^\s|,`]{1,128}$", "a result field name: 1 to 128 characters, without spaces, |, commas or backticks"
        ),
        description="the result field holding the number; default: the result's only numeric field",
    )
    window: Duration = Field(default=300, description="the query's time range, ending a minute ago (1m to 1d)")
    samples: int = Field(
        default=3, ge=0, le=MAX_SAMPLES, description="matching lines quoted in the notification when it breaches"
    )
    timeout: float = Field(default=30.0, gt=0, le=300, description="seconds for the whole run, both queries")

    @field_validator("log_groups")
    @classmethod
    def _distinct(cls, groups: list[str]) -> list[str]:
        repeated = sorted({g for g in groups if groups.count(g) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return groups

    @field_validator("query")
    @classmethod
    def _splits(cls, query: str) -> str:
        split_commands(query)
        return query

    @field_validator("window")
    @classmethod
    def _whole_minutes(cls, window: int) -> int:
        if window % 60 or window > MAX_WINDOW:
            raise ValueError(f"{format_duration(window)}: use whole minutes from 1m to 1d")
        return window

    @model_validator(mode="after")
    def _query_sane(self) -> LogsQueryCheck:
        has_stats = any(verb(c) == "stats" for c in split_commands(self.query))
        if not has_stats and self.value_field is None:
            raise ValueError(
                "query: no stats command, so there is no number to read; add one "
                "(such as | stats count(*) as errors) or name the field holding the number in value_field"
            )
        return self

    def sample_query(self) -> str | None:
        return sample_query(self.query, self.samples, len(self.log_groups) > 1) if self.samples else None
