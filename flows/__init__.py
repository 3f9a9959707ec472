"""Prefect flows: deployment entrypoints that compose the tasks."""
