"""The registry of check kinds: one line per kind. Everything else looks kinds up here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from vigil.spec.alb import AlbCheck
from vigil.spec.amazonmq import AmazonMqCheck
from vigil.spec.common import CheckBase
from vigil.spec.consistency import ConsistencyCheck
from vigil.spec.dynamodb import DynamoDbCheck
from vigil.spec.ec2 import Ec2Check
from vigil.spec.ecs import EcsCheck
from vigil.spec.elasticsearch import ElasticsearchCheck
from vigil.spec.heartbeat import HeartbeatCheck
from vigil.spec.http import HttpCheck
from vigil.spec.lambda_function import LambdaCheck
from vigil.spec.log_pattern import LogPatternCheck
from vigil.spec.logs_query import LogsQueryCheck
from vigil.spec.metric import MetricCheck
from vigil.spec.rabbitmq import RabbitmqCheck
from vigil.spec.rds import RdsCheck
from vigil.spec.sql import SqlCheck
from vigil.spec.sqs import SqsCheck


@dataclass(frozen=True)
class Kind:
    model: type[CheckBase]
    # Module under infra/checks/ with a `build(scope, check, ctx)` function. Imported lazily so
    # `validate` and `plan` never start the CDK's JavaScript runtime.
    construct_module: str
    # Module under lambdas/vigil/checkers/ with `handler` and `measure`; None for Lambda-free kinds.
    checker_module: str | None = None
    # What one check adds to its service stack beyond one alarm per active signal (and a schedule
    # when it runs a checker): validate's estimate (infra.estimate), calibrated against synth by
    # tests/stack/test_estimate.py. Per signal: log_pattern's metric filter. Per check: ecs's two
    # event metric filters.
    per_signal: int = 1
    per_check: int = 0
    # Its checker reads AWS APIs in an access role per service stack (infra.checks.access). The
    # estimate counts the role for every check of the kind that runs a checker: for consistency,
    # whose SQL- and search-only checks need none, that is 2 resources over, never under.
    access_role: bool = False

    def constructs(self) -> ModuleType:
        return importlib.import_module(self.construct_module)

    def checker(self) -> ModuleType:
        """The checker module (with `handler`); only for kinds that run a checker."""
        if self.checker_module is None:
            raise ValueError(f"kind {self.model.model_fields['kind'].annotation} runs no checker")
        return importlib.import_module(self.checker_module)


KINDS: dict[str, Kind] = {
    "http": Kind(HttpCheck, "infra.checks.http", "vigil.checkers.http"),
    # Only prefix checks run the checker (SqsCheck.has_checker); queues and lists are Lambda-free.
    "sqs": Kind(SqsCheck, "infra.checks.sqs", "vigil.checkers.sqs", access_role=True),
    "amazonmq": Kind(AmazonMqCheck, "infra.checks.amazonmq"),
    "log_pattern": Kind(LogPatternCheck, "infra.checks.log_pattern", per_signal=2),
    "rabbitmq": Kind(RabbitmqCheck, "infra.checks.rabbitmq", "vigil.checkers.rabbitmq"),
    "logs_query": Kind(LogsQueryCheck, "infra.checks.logs_query", "vigil.checkers.logs_query", access_role=True),
    "elasticsearch": Kind(ElasticsearchCheck, "infra.checks.elasticsearch", "vigil.checkers.elasticsearch"),
    "sql": Kind(SqlCheck, "infra.checks.sql", "vigil.checkers.sql"),
    "rds": Kind(RdsCheck, "infra.checks.rds"),
    # Only DynamoDB and S3 sides read in the access role; SQL and search sides come through secrets.
    "consistency": Kind(ConsistencyCheck, "infra.checks.consistency", "vigil.checkers.consistency", access_role=True),
    "heartbeat": Kind(HeartbeatCheck, "infra.checks.heartbeat", "vigil.checkers.heartbeat"),
    "ecs": Kind(EcsCheck, "infra.checks.ecs", per_check=2),
    "ec2": Kind(Ec2Check, "infra.checks.ec2_instance"),
    "alb": Kind(AlbCheck, "infra.checks.alb"),
    "lambda": Kind(LambdaCheck, "infra.checks.lambda_function"),
    "dynamodb": Kind(DynamoDbCheck, "infra.checks.dynamodb"),
    "metric": Kind(MetricCheck, "infra.checks.metric"),
}
