"""ServiceNow incidents through the Table API: one incident per correlation id while it is open.

On ALARM: find the open incident whose correlation_id is the alert's; add a work note to it if
there is one (a repeat, or the same ALARM delivered twice), else create it. On OK: resolve the
open incident, if any. Each step starts by looking, so a retried create looks again first and a
create that did land (its answer lost to a timeout) is found instead of duplicated.

Table API (ServiceNow REST API reference, *Table API*), version v2, whose GET answers an empty
list rather than v1's 404 when nothing matches:
  GET   /api/now/v2/table/incident?sysparm_query=correlation_id=<id>^stateNOT IN6,7,8^ORDERBYDESCsys_created_on
        &sysparm_fields=sys_id,number,state,correlation_id&sysparm_limit=1   → 200 {"result": [...]}
  POST  /api/now/v2/table/incident            {short_description, description, correlation_id, ...} → 201
  PATCH /api/now/v2/table/incident/<sys_id>   {work_notes} or {state: 6, close_code, close_notes}   → 200
Incident states in the base system: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed,
8 Canceled; resolving sets the resolution code (close_code) and notes (close_notes), which the
base system requires for state 6. The Table API ignores an invalid part of a query (unless
glide.invalid_query.returns_no_rows is set) and would then answer with any incident, so the
answer's correlation_id is compared with the one asked for before anything is written.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, urlencode

from vigil.notifier.render import iso_utc
from vigil.outputs.alert import Alert
from vigil.outputs.base import BaseOutput, Exchange, each_member, require
from vigil.outputs.config import ServiceNowOutput
from vigil.outputs.retry import DeliveryError
from vigil.spec.common import Severity
from vigil.text import clip

TABLE_PATH = "/api/now/v2/table/incident"
RESOLVED = "6"
NOT_OPEN = "6,7,8"  # Resolved, Closed, Canceled
SHORT_DESCRIPTION_LIMIT = 160  # the base system's short_description length
DESCRIPTION_LIMIT = 4000
CORRELATION_DISPLAY = "vigil"


class ServiceNow(BaseOutput[ServiceNowOutput]):
    type = "servicenow"

    def deliver(self, alert: Alert, secret: dict[str, Any], http: Exchange) -> str:
        headers = {"Authorization": self._authorization(secret)}
        return each_member(alert, lambda member: http.retrying(lambda: self._sync(member, headers, http)))

    def _authorization(self, secret: dict[str, Any]) -> str:
        if self.config.auth == "bearer":
            return "Bearer " + require(secret, "token", self.credentials, "auth: bearer needs an OAuth access token")
        why = "auth: basic needs username and password"
        user = require(secret, "username", self.credentials, why)
        password = require(secret, "password", self.credentials, why)
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    def _sync(self, alert: Alert, headers: dict[str, str], http: Exchange) -> str:
        incident = self._open_incident(alert.correlation_id, headers, http)
        if alert.state == "OK":
            if incident is None:
                return "no open incident to resolve"
            self._update(incident, resolution(alert, self.config.close_code), headers, http)
            return f"resolved {incident['number']}"
        if incident is not None:
            self._update(incident, {"work_notes": work_note(alert)}, headers, http)
            return f"work note on {incident['number']}"
        created = http.once(
            "POST",
            self.config.instance + TABLE_PATH,
            what="create incident",
            headers=headers,
            payload=new_incident(alert, self.config),
        ).json("create incident")
        return f"created {_record(created, 'create incident')['number']}"

    def _open_incident(self, correlation: str, headers: dict[str, str], http: Exchange) -> dict[str, Any] | None:
        query = urlencode(
            {
                "sysparm_query": f"correlation_id={correlation}^stateNOT IN{NOT_OPEN}^ORDERBYDESCsys_created_on",
                "sysparm_fields": "sys_id,number,state,correlation_id",
                "sysparm_limit": "1",
            },
            quote_via=quote,  # %20 for the space in "NOT IN", never "+"
        )
        answer = http.once(
            "GET", f"{self.config.instance}{TABLE_PATH}?{query}", what="find open incident", headers=headers
        ).json("find open incident")
        rows = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise DeliveryError("find open incident: the answer has no result list", retryable=False)
        if not rows:
            return None
        row = rows[0]
        if not isinstance(row, dict) or row.get("correlation_id") != correlation:
            raise DeliveryError(
                "find open incident: the instance answered with an incident of another correlation_id "
                "(it ignored the query: can the integration user read correlation_id?)",
                retryable=False,
            )
        return _record({"result": row}, "find open incident")

    def _update(
        self, incident: dict[str, Any], fields: dict[str, str], headers: dict[str, str], http: Exchange
    ) -> None:
        http.once(
            "PATCH",
            f"{self.config.instance}{TABLE_PATH}/{quote(incident['sys_id'], safe='')}",
            what=f"update {incident['number']}",
            headers=headers,
            payload=fields,
        )


def _record(answer: Any, what: str) -> dict[str, Any]:
    record = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(record, dict) or not isinstance(record.get("sys_id"), str) or not record.get("number"):
        raise DeliveryError(f"{what}: the answer has no sys_id and number", retryable=False)
    return record


def new_incident(alert: Alert, config: ServiceNowOutput) -> dict[str, str]:
    """The incident's fields on create; the route's fixed `fields` first, vigil's own over them."""
    levels = config.severity_map.get(alert.severity, config.severity_map[Severity.critical])
    value = f": {alert.value_vs_threshold}" if alert.value_vs_threshold else ""
    return {
        **config.fields,
        "short_description": clip(f"[vigil {alert.environment}] {alert.title}{value}", SHORT_DESCRIPTION_LIMIT),
        "description": clip(alert.details or alert.headline, DESCRIPTION_LIMIT),
        "correlation_id": alert.correlation_id,
        "correlation_display": CORRELATION_DISPLAY,
        "impact": str(levels.impact),
        "urgency": str(levels.urgency),
    }


def work_note(alert: Alert) -> str:
    what = "Still in ALARM (repeat notification)" if alert.repeat else "ALARM again"
    return f"vigil: {what}{_since(alert)}: {alert.value_text or alert.title}"


def resolution(alert: Alert, close_code: str) -> dict[str, str]:
    return {
        "state": RESOLVED,
        "close_code": close_code,
        "close_notes": f"vigil: {alert.title} recovered{_since(alert)}: {alert.value_text or 'back within its rule'}. "
        "Resolved automatically when the alarm returned to OK.",
    }


def _since(alert: Alert) -> str:
    return f" at {iso_utc(alert.since)}" if alert.since else ""
