"""build_alert: from the notifier's AlarmEvent and Notification to the one input every output reads."""

from __future__ import annotations

import json

from tests.support.outputs import ALARM_FIXTURE, ALARMS, LINKS, OK_FIXTURE, alert_from
from vigil.notifier.events import AlarmEvent, parse_alarm, split_event
from vigil.notifier.render import render
from vigil.outputs.alert import CORRELATION_LIMIT, build_alert, correlation_id, grouped


def event_of(fixture: str) -> AlarmEvent:
    (payload,) = split_event(json.loads((ALARMS / fixture).read_text()))
    return parse_alarm(payload)


def test_alarm_carries_what_every_output_needs() -> None:
    alert = alert_from(ALARM_FIXTURE)
    assert alert.correlation_id == "vigil/prod/campaign-api-health/down"
    assert (alert.state, alert.environment, alert.severity) == ("ALARM", "prod", "critical")
    assert (alert.check, alert.signal, alert.service) == ("campaign-api-health", "down", "campaign-api")
    assert alert.alarm_name == "vigil-prod-campaign-api-health-down"
    assert alert.value_vs_threshold == "0 < 1"
    assert alert.value_text == "latest value 0 (rule: < 1 for 2 of 2 minutes)"
    assert alert.runbook == "https://wiki.example.com/runbooks/campaign-api#health"
    assert alert.alarm_url and alert.alarm_url.endswith("#alarmsV2:alarm/vigil-prod-campaign-api-health-down")
    assert alert.dashboard_url and alert.dashboard_url.endswith("#dashboards/dashboard/vigil-prod")
    assert alert.details.startswith("ALARM: campaign-api-health down")
    assert alert.since is not None and alert.since.isoformat().startswith("2024-05-02T14:03:12")
    assert not alert.repeat and alert.group == ()


def test_alarm_and_its_recovery_share_the_correlation_id() -> None:
    assert alert_from(ALARM_FIXTURE).correlation_id == alert_from(OK_FIXTURE).correlation_id


def test_composite_page_alarm_shares_its_signals_correlation_id() -> None:
    for fixture in ("sns_composite_alarm.json", "eventbridge_composite_alarm.json"):
        event = event_of(fixture)
        alert = build_alert(event, render(event, LINKS), environment="prod", links=LINKS)
        assert alert is not None
        assert event.meta is not None
        assert alert.correlation_id == correlation_id("prod", event.meta.check, event.meta.signal)
        assert alert.value is None, "a composite has no metric of its own"


def test_insufficient_data_opens_and_closes_nothing() -> None:
    event = event_of("eventbridge_insufficient_data.json")
    assert build_alert(event, render(event, LINKS), environment="prod", links=LINKS) is None


def test_repeat_is_only_for_an_alarm_still_in_alarm() -> None:
    assert alert_from(ALARM_FIXTURE, repeat=True).repeat
    assert not alert_from(OK_FIXTURE, repeat=True).repeat
    assert alert_from(ALARM_FIXTURE, repeat=True).headline == "ALARM (still) critical: campaign-api-health down (prod)"


def test_long_or_unusual_correlation_ids_stay_bounded_distinct_and_stable() -> None:
    long_check = "c" * 64
    first = correlation_id("production-eu-1", long_check, "queue-" + "x" * 58)
    second = correlation_id("production-eu-1", long_check, "queue-" + "y" * 58)
    assert len(first) <= CORRELATION_LIMIT and len(second) <= CORRELATION_LIMIT
    assert first != second
    assert first == correlation_id("production-eu-1", long_check, "queue-" + "x" * 58)
    odd = correlation_id("prod", "Some Alarm^name=1", "alarm")
    assert "^" not in odd and "=" not in odd and " " not in odd


def test_an_alarm_vigil_did_not_build_is_treated_as_critical() -> None:
    event = event_of(ALARM_FIXTURE).model_copy(update={"meta": None})
    alert = build_alert(event, render(event, LINKS), environment="prod", links=LINKS)
    assert alert is not None
    assert (alert.check, alert.signal, alert.severity) == ("vigil-prod-campaign-api-health-down", "alarm", "critical")


def test_group_members_each_stand_alone() -> None:
    lead, other = alert_from(ALARM_FIXTURE), alert_from(OK_FIXTURE, environment="staging")
    alert = grouped([lead, other])
    assert alert.group == (other,)
    members = alert.members()
    assert [m.correlation_id for m in members] == [lead.correlation_id, other.correlation_id]
    assert all(m.group == () for m in members)
