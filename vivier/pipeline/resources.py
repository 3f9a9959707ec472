"""What a process needs to run the pipeline, built once and handed in: no global reaches for it.

    resources = Resources.build(settings)      # a test, the bench, a CLI verb: its own
    resources = current()                      # a Prefect task: the process's (from VIVIER_*)

One `Resources` holds the settings, the database engine, the compiled templates, the segments,
the transport (one per process: its sessions share one rate limit) and the data-check
validator, plus each run's catalog of openings and content, read once per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from vivier.messages.catalog import Catalog, load_catalog
from vivier.messages.rendering import Renderer, available_templates
from vivier.pipeline.runs import RunSpec, RunTools
from vivier.rules.segments import Segments, load_segments
from vivier.settings import Settings, get_settings
from vivier.store import db
from vivier.transports import Transport, make_transport

if TYPE_CHECKING:
    from data_checks.runner import BatchFindings

Validate = Callable[[Any, datetime], "BatchFindings"]
_KEEP_RUNS = 4  # runs whose catalog a process keeps (concurrent runs share a worker process)


def _validator() -> Validate:
    from data_checks import validate_candidates  # GX is imported by the first validation only

    return validate_candidates


@dataclass
class Resources:
    """Settings, engine, renderer, segments, transport and validator of one process."""

    settings: Settings
    engine: Engine
    renderer: Renderer
    segments: Segments
    transport: Transport
    validate: Validate
    _catalogs: dict[int, Catalog] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, transport: Transport | None = None,
              validate: Validate | None = None) -> Resources:
        """Everything from `settings`; a broken segments file or template folder fails here."""
        segments = load_segments(settings.segments_file)
        segments.check_templates(available_templates(settings.templates_dir))
        return cls(
            settings=settings, engine=db.engine_for(settings.database_url),
            renderer=Renderer(settings.templates_dir, zone=settings.team_timezone),
            segments=segments, transport=transport or make_transport(settings),
            validate=validate or _validator(),
        )

    def catalog(self, spec: RunSpec) -> Catalog:
        """The run's openings and content, read on first use (every batch of a run sees the same)."""
        with self._lock:
            if spec.run_id not in self._catalogs:
                with self.engine.connect() as conn:
                    catalog = load_catalog(conn, spec.as_of, self.settings.zone, timedelta(
                        days=self.settings.privileged_head_start_days))
                while len(self._catalogs) >= _KEEP_RUNS:
                    del self._catalogs[next(iter(self._catalogs))]  # oldest first: memory stays flat
                self._catalogs[spec.run_id] = catalog
            return self._catalogs[spec.run_id]

    @property
    def runs_served(self) -> frozenset[int]:
        """Runs whose batches this process worked on (it read their catalog)."""
        with self._lock:
            return frozenset(self._catalogs)

    def tools(self, spec: RunSpec) -> RunTools:
        """The renderer, segments and catalog a batch of this run works with."""
        return RunTools(self.renderer, self.segments, self.catalog(spec))


_current: tuple[Settings, Resources] | None = None  # (the settings it was built from, resources)
_installed: list[Resources] = []
_current_lock = threading.Lock()
_completions: list[Callable[[Settings], Settings]] = []


def complete_settings_with(complete: Callable[[Settings], Settings]) -> None:
    """Register how this process completes its settings before building resources (the Prefect
    layer fills secrets kept in Prefect Secret blocks); the core itself reads nothing else."""
    if complete not in _completions:
        _completions.append(complete)


def current() -> Resources:
    """The process's resources: the installed ones (see `using`), else built from `VIVIER_*`."""
    global _current
    if _installed:
        return _installed[-1]
    settings = get_settings()
    with _current_lock:
        if _current is None or _current[0] is not settings:
            complete = settings
            for completion in _completions:
                complete = completion(complete)
            _current = (settings, Resources.build(complete))
        return _current[1]


@contextmanager
def using(resources: Resources) -> Iterator[Resources]:
    """Run flows and tasks of this process with `resources` (a test's own, a CLI verb's)."""
    _installed.append(resources)
    try:
        yield resources
    finally:
        _installed.remove(resources)
