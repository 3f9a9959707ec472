"""Prefect tasks: one pipeline stage each, thin wrappers over `vivier`."""
