"""The deployments' pull step: enter the worker's vivier checkout, or fail naming VIVIER_PROJECT_DIR.

prefect.yaml calls it with `directory: "{{ $VIVIER_PROJECT_DIR }}"`. Prefect turns an unset
variable into "" and its own `set_working_directory` then stays in the worker's temporary
folder, so the run died later on `FileNotFoundError: …/flows/nurture.py`: this step says why.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

FIX = ("set VIVIER_PROJECT_DIR in the worker's environment to the vivier checkout (the folder "
       "with prefect.yaml) and restart the worker, or deploy with the `git_clone` pull step "
       "(README, \"Scheduling with Prefect\")")


class ProjectDirMissing(RuntimeError):
    """The worker cannot find the vivier code: VIVIER_PROJECT_DIR is unset or wrong."""


def enter_project_dir(directory: str) -> dict[str, str]:
    """Change to `directory` (the worker's VIVIER_PROJECT_DIR) after checking it holds vivier."""
    if not directory.strip() or "{{" in directory:
        _refuse(f"VIVIER_PROJECT_DIR is not set for this worker: {FIX}.")
    folder = Path(directory).expanduser()
    if not (folder / "flows").is_dir():
        _refuse(f"VIVIER_PROJECT_DIR={directory} has no flows/ folder (not a vivier checkout): {FIX}.")
    os.chdir(folder)
    return {"directory": os.getcwd()}


def _refuse(message: str) -> None:
    """Say it in the flow run's log (the UI), not only in the worker's output, then fail."""
    from prefect.runtime import flow_run  # the worker passes the run's id to this process

    if flow_run.id:
        logging.getLogger("prefect.flow_runs").error(message, extra={"flow_run_id": flow_run.id})
    raise ProjectDirMissing(message)
