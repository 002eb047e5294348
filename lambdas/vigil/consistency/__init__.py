"""Data consistency between stores: bucketed checksums, bisection down to differing rows.

model: the canonical row form and hash; compare: the algorithm; stream and sql: endpoints.
"""
