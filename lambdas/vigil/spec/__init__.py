"""Catalog models: one module per check kind, plus the shared building blocks in `common`."""
