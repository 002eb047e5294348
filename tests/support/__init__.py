"""Test helpers shared across test suites (local AWS, the CDK CLI)."""
