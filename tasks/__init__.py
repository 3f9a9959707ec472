"""Prefect tasks: one pipeline stage each, thin wrappers over `vivier`."""

from tasks.secrets import with_prefect_secrets
from vivier.pipeline.resources import complete_settings_with

# Every process that runs vivier's tasks (a worker's flow run, a Dask worker) reads the secrets
# named by VIVIER_*_BLOCK from Prefect when it builds its resources.
complete_settings_with(with_prefect_secrets)
