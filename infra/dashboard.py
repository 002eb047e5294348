"""Dashboards: `vigil-<env>-<service file>`, a row per service (each check's values and alarm states),
one per service file in its own stack; and `vigil-<env>`, vigil itself, headed by links to the others.
Each stays far under CloudWatch's 500 widgets (synth checks: infra.budgets).

Built with aws_cloudwatch directly: cdk-monitoring-constructs' MonitoringFacade names dashboards
and alarms its own way and would build a second set of alarms; here the widgets show the very
alarms infra.alarms made, so the dashboard and the notifier agree on names.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from vigil.spec.common import CheckBase

GRAPH_WIDTH = 8
STATUS_WIDTH = 4
HEIGHT = 6


@dataclass
class _Panel:
    title: str
    metrics: list[cloudwatch.IMetric]
    alarms: list[cloudwatch.IAlarm]


class DashboardBuilder:
    def __init__(self) -> None:
        self._services: dict[str, list[_Panel]] = defaultdict(list)
        self._index: list[str] = []

    def link(self, dashboard: str) -> None:
        """List another dashboard at the top: vigil's own (linked from every e-mail) leads to each
        service file's."""
        self._index.append(dashboard)

    def add(self, check: CheckBase, metrics: list[cloudwatch.IMetric], alarms: list[cloudwatch.IAlarm]) -> None:
        self._services[check.service].append(_Panel(check.id, metrics, alarms))

    def add_self(self, title: str, metrics: list[cloudwatch.IMetric], alarms: list[cloudwatch.IAlarm]) -> None:
        self._services["vigil (self-monitoring)"].append(_Panel(title, metrics, alarms))

    def build(self, scope: Construct, construct_id: str, name: str) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(scope, construct_id, dashboard_name=name, default_interval=Duration.hours(3))
        # Services sorted, self-monitoring last: the order (and so the body) does not depend on file order.
        services = sorted(self._services, key=lambda s: (s.startswith("vigil ("), s))
        per_row = 24 // (GRAPH_WIDTH + STATUS_WIDTH)
        if self._index:
            links = " ".join(f"[{name}](#dashboards:name={name})" for name in sorted(self._index))
            dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"## Service dashboards\n{links}", width=24, height=3))
        for service in services:
            dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"## {service}", width=24, height=1))
            panels = self._services[service]
            for start in range(0, len(panels), per_row):
                widgets: list[cloudwatch.IWidget] = []
                for panel in panels[start : start + per_row]:
                    widgets.append(
                        cloudwatch.GraphWidget(title=panel.title, left=panel.metrics, width=GRAPH_WIDTH, height=HEIGHT)
                    )
                    widgets.append(
                        cloudwatch.AlarmStatusWidget(
                            title=f"{panel.title} alarms", alarms=panel.alarms, width=STATUS_WIDTH, height=HEIGHT
                        )
                    )
                dashboard.add_widgets(cloudwatch.Row(*widgets))
        return dashboard
