"""vigil runtime: code that runs inside the checker and notifier Lambda functions.

Also imported by the synth side (infra/), so the catalog is validated with exactly the
models the checkers use to read their input.
"""
