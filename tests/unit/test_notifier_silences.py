"""Silences in the notifier, against moto SNS and DynamoDB, with the state changes' times set by hand.

The alarm is orders-queue backlog (service orders, route campaigns-critical) from the fixtures;
each change is built with its own state and time, as CloudWatch's SNS notification (the alarm
action) and as the EventBridge event of the same change.

CloudWatch's mute rules, built from the same windows, mute the alarm actions; moto models none of
that (tests/stack/test_windows_stack.py walks the template instead), so here an action-path copy
stands for what CloudWatch sends when it is not muted: outside the window, or at its end.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from test_notifier_delivery import ALARM_ARN, TABLE, sns_event, table  # noqa: F401
from test_notifier_handler import FIXTURES, Routes, env, routes, summary  # noqa: F401

from infra.alarm_events import eventbridge_event
from vigil.notifier import handler as notifier
from vigil.notifier.silencing import WINDOWS_ENV
from vigil.silences.adhoc import PARTITION, AdhocSilence
from vigil.silences.windows import Window

ROUTE = "campaigns-critical"
WINDOW = Window(
    name="orders-patching",
    start=datetime(2024, 5, 2, 14, 0),
    end=datetime(2024, 5, 2, 16, 0),
    services=["orders"],
)


def change(state: str, at: str, before: str = "") -> dict[str, Any]:
    """The alarm action's SNS notification of orders-queue backlog entering `state` at `at` (HH:MM, 2 May 2024)."""
    old = before or ("OK" if state == "ALARM" else "ALARM")
    return sns_event(
        message_id=f"{state}-{at}",
        NewStateValue=state,
        OldStateValue=old,
        StateChangeTime=f"2024-05-02T{at}:00.000+0000",
    )


def by_rule(state: str, at: str) -> dict[str, Any]:
    """The EventBridge rule's event of the same change."""
    return eventbridge_event(change(state, at), f"eb-{state}-{at}")


def published(route: str = ROUTE) -> list[tuple[str | None, str]]:
    """(subject, e-mail text) of every publish to the route."""
    return [(subject, message["default"]) for subject, message in Routes.published(route)]


def held_items(client: Any) -> list[dict[str, Any]]:
    items = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": PARTITION}}
    )["Items"]
    return [i for i in items if i["sk"]["S"].startswith("held#")]


@pytest.fixture
def window(table: Any, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    monkeypatch.setenv(WINDOWS_ENV, json.dumps([WINDOW.model_dump(mode="json")]))
    return table


# --- maintenance windows --------------------------------------------------------------------------


def test_a_window_holds_the_rules_copy_and_the_action_path_still_pages(window: Any) -> None:
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)
    assert published() == []
    # The held copy claimed nothing: when CloudWatch runs the muted ALARM action at the window's end
    # (the alarm still in ALARM), that copy pages, once.
    assert notifier.handler(change("ALARM", "14:03"), None) == summary(published=1)
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)  # a late copy: dropped
    ((subject, _),) = published()
    assert subject == "[ALARM][critical] orders-queue backlog - orders"
    # ...and it stays recorded as paged, so its recovery would be delivered.
    last = window.get_item(TableName=TABLE, Key={"pk": {"S": f"alarm#{ALARM_ARN}"}, "sk": {"S": "last"}})["Item"]
    assert last["held"] == {"BOOL": False}


def test_outside_its_window_the_rules_copy_pages(window: Any) -> None:
    assert notifier.handler(by_rule("ALARM", "16:00"), None) == summary(published=1)  # the window ends at 16:00


def test_a_window_covers_only_its_services_and_checks(window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    other = WINDOW.model_copy(update={"services": ["campaign-api"]})
    monkeypatch.setenv(WINDOWS_ENV, json.dumps([other.model_dump(mode="json")]))
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(published=1)


def test_a_recovery_of_an_alarm_paged_before_the_window_is_delivered_and_says_so(window: Any) -> None:
    assert notifier.handler(change("ALARM", "13:50"), None) == summary(published=1)
    assert notifier.handler(by_rule("OK", "15:15"), None) == summary(published=1)
    (_, _), (subject, email) = published()
    assert subject == "[OK][critical] orders-queue backlog recovered - orders"
    assert (
        "Recovered during maintenance window orders-patching (14:00–16:00 UTC): sent, as its ALARM was paged "
        "before the silence." in email
    )


def test_a_recovery_with_no_record_of_its_alarm_is_delivered(window: Any) -> None:
    assert notifier.handler(by_rule("OK", "15:15"), None) == summary(published=1)
    ((_, email),) = published()
    assert "vigil has no record of its ALARM, and a recovery is never dropped" in email


def test_an_alarm_and_its_recovery_inside_the_window_are_summarized_in_the_next_pages_footer(window: Any) -> None:
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)
    assert notifier.handler(by_rule("OK", "14:40"), None) == summary(skipped=1)
    assert notifier.handler(by_rule("OK", "14:40"), None) == summary(skipped=1)  # a retry: still held, once
    assert published() == []
    assert len(held_items(window)) == 2

    # The next page to the same route, about another alarm, tells what the window held.
    assert notifier.handler(_fixture("eventbridge_alarm.json"), None) == summary(published=2)
    ((subject, email),) = published()
    assert subject == "[ALARM][critical] campaign-api-health down - campaign-api"
    assert (
        "Silences:\n  silenced 14:00–16:00 UTC by maintenance window orders-patching: 1 alarm held: "
        "orders-queue backlog (ALARM 14:03, OK 14:40)\n" in email
    )
    # Told once: the page after that has no footer.
    assert notifier.handler(change("ALARM", "16:30"), None) == summary(published=1)
    assert "Silences:" not in published()[-1][1]


def test_when_the_window_ends_the_muted_recovery_of_a_held_alarm_pages_nobody(window: Any) -> None:
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)
    assert notifier.handler(by_rule("OK", "14:40"), None) == summary(skipped=1)
    # 16:00: the window ends with the alarm OK, and CloudWatch runs the OK action it muted at 14:40
    # ("How alarm mute rules work"); that recovery is already summarized for the next page's footer.
    assert notifier.handler(change("OK", "14:40"), None) == summary(skipped=1)
    assert notifier.handler(change("OK", "14:40"), None) == summary(skipped=1)  # and a retry of it
    assert published() == []
    assert notifier.handler(change("ALARM", "16:30"), None) == summary(published=1)
    assert "orders-queue backlog (ALARM 14:03, OK 14:40)" in published()[0][1]


def test_the_footer_goes_only_to_the_routes_that_would_have_been_paged(window: Any) -> None:
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)
    # campaign-api-health pages campaigns-critical and platform-critical; only the first had the held alarm.
    assert notifier.handler(_fixture("eventbridge_alarm.json"), None) == summary(published=2)
    assert "orders-queue backlog (ALARM 14:03)" in published(ROUTE)[0][1]
    assert "Silences:" not in published("platform-critical")[0][1]


# --- ad-hoc silences ------------------------------------------------------------------------------


def _adhoc(client: Any, **changes: Any) -> AdhocSilence:
    silence = AdhocSilence(
        id="a1b2c3",
        target="service",
        name="orders",
        reason="re-indexing the orders table",
        created_by="alice",
        start=datetime(2024, 5, 2, 14, 0, tzinfo=UTC),
        until=datetime(2024, 5, 2, 15, 0, tzinfo=UTC),
    ).model_copy(update=changes)
    client.put_item(TableName=TABLE, Item=silence.to_item())
    return silence


def test_an_adhoc_silence_holds_both_paths(table: Any) -> None:  # noqa: F811
    _adhoc(table)
    assert notifier.handler(change("ALARM", "14:03"), None) == summary(skipped=1)
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)
    assert published() == []
    (item,) = held_items(table)
    assert item["silence"]["S"] == "silence a1b2c3 by alice (re-indexing the orders table)"


def test_an_adhoc_silence_of_a_check_holds_that_check_only(table: Any) -> None:  # noqa: F811
    _adhoc(table, target="check", name="orders-queue-other")
    assert notifier.handler(change("ALARM", "14:03"), None) == summary(published=1)


def test_an_expired_silence_holds_nothing(table: Any) -> None:  # noqa: F811
    _adhoc(table, until=datetime(2024, 5, 2, 14, 3, tzinfo=UTC), expired_by="bob")
    assert notifier.handler(change("ALARM", "14:03"), None) == summary(published=1)


def test_after_an_adhoc_silence_the_recovery_pages_with_the_held_alarm_in_its_footer(table: Any) -> None:  # noqa: F811
    _adhoc(table)
    assert notifier.handler(change("ALARM", "14:03"), None) == summary(skipped=1)
    assert notifier.handler(change("OK", "15:30"), None) == summary(published=1)  # the silence ended at 15:00
    ((subject, email),) = published()
    assert subject == "[OK][critical] orders-queue backlog recovered - orders"
    assert "silenced 14:00–15:00 UTC by silence a1b2c3 by alice (re-indexing the orders table): 1 alarm held: " in email


def test_without_the_table_windows_still_hold_and_recoveries_still_go_out(
    routes: Routes,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    monkeypatch.setenv(WINDOWS_ENV, json.dumps([WINDOW.model_dump(mode="json")]))
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(skipped=1)
    assert notifier.handler(by_rule("OK", "14:40"), None) == summary(published=1)


def test_an_unreadable_windows_variable_mutes_nothing(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv(WINDOWS_ENV, '[{"name": "broken"}]')
    assert notifier.handler(by_rule("ALARM", "14:03"), None) == summary(published=1)


# --- helpers ----------------------------------------------------------------------------------------


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())
