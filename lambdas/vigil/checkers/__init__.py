"""Checker Lambdas: one module per check kind, each a `measure` function plus `handler`.

`runner` holds what every kind shares: reading the event, resolving secrets, timing, turning any
failure into a CheckResult and emitting metrics.
"""
