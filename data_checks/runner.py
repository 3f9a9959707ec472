"""Runs the candidate checks on each batch of a cadence run, and gates the run on the result."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from data_checks import candidates

if TYPE_CHECKING:  # Great Expectations takes 8-30 s to import: only a validator imports it
    import great_expectations as gx
    from great_expectations.core.batch_definition import BatchDefinition

# COMPLETE is the only format listing every failing row; "id" maps each back to a candidate.
# Without the values themselves: results then hold no email or name, and build faster.
RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["id"],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}


@dataclass(frozen=True)
class BatchFindings:
    """What the checks found in one batch: failing candidate ids and counts per check."""

    checked: int
    failures: dict[int, list[str]]  # candidate id -> failing check names (failing ids only)
    by_check: dict[str, int]  # check name -> failing rows

    @property
    def failing_rows(self) -> int:
        return len(self.failures)


@dataclass
class QualityTally:
    """Counts summed over a run's batches, for the gate (ids stay in `decisions`)."""

    checked: int = 0
    failing_rows: int = 0
    by_check: dict[str, int] = field(default_factory=dict)

    def add(self, findings: BatchFindings) -> None:
        self.checked += findings.checked
        self.failing_rows += findings.failing_rows
        for check, count in findings.by_check.items():
            self.by_check[check] = self.by_check.get(check, 0) + count

    def gate(self, threshold: float) -> None:
        quality_gate(self.checked, self.by_check, self.failing_rows, threshold)


class QualityGateFailed(RuntimeError):
    """Too many candidates failed the checks: the upstream data is broken, nothing is sent."""


class DataCheckBroken(RuntimeError):
    """A check could not run at all (a missing column, a wrong type): a bug, not bad data."""


class CandidateValidator:
    """A GX context, data source and suite built once, validating many candidate batches."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        )
        self._context = gx.get_context(mode="ephemeral", project_config=config)
        source = self._context.data_sources.add_pandas("vivier")
        asset = source.add_dataframe_asset(candidates.DATASET)
        self._batches: BatchDefinition = asset.add_batch_definition_whole_dataframe("batch")
        self._suite: gx.ExpectationSuite | None = None
        self._suite_now: datetime | None = None
        self._checks: list[str] = []  # check names in suite order, for stable findings
        # GX loads each batch into the data source's one execution engine: one batch at a time.
        self._lock = threading.Lock()

    def validate(
        self, frame: pd.DataFrame | Sequence[Mapping[str, Any]], now: datetime
    ) -> BatchFindings:
        """Run every check on one batch; `now` bounds the dates (plus a little clock skew)."""
        if now.tzinfo is None:
            raise ValueError(
                f"now={now!r} is naive: pass an aware datetime (vivier.store.schema.utcnow())"
            )
        table = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(list(frame))
        if table.empty:
            return BatchFindings(checked=0, failures={}, by_check={})
        prepared = candidates.prepare(table)
        with self._lock:
            suite = self._suite_for(now)
            batch = self._batches.get_batch(batch_parameters={"dataframe": prepared})
            result = batch.validate(suite, result_format=RESULT_FORMAT)
            checks = self._checks
        return _findings(len(prepared), checks, result.results)

    def _suite_for(self, now: datetime) -> gx.ExpectationSuite:
        """The suite for this `now`, rebuilt only when `now` changes (once per run in practice)."""
        if self._suite is None or self._suite_now != now:
            import great_expectations as gx

            suite = gx.ExpectationSuite(name=candidates.DATASET)
            named = candidates.expectations(now)
            for check, expectation in named:
                expectation.meta = {"check": check}
                suite.add_expectation(expectation)
            self._suite, self._suite_now = suite, now
            self._checks = list(dict.fromkeys(check for check, _ in named))
        return self._suite


def _findings(checked: int, checks: list[str], results: Iterable[Any]) -> BatchFindings:
    """Fold GX results into failing ids per check, listed in the suite's check order."""
    failing: dict[str, set[int]] = {check: set() for check in checks}
    for result in results:
        check = result.expectation_config.meta["check"]
        problem = _exception_message(result.exception_info)
        if problem is not None:
            column = result.expectation_config.kwargs.get("column")
            raise DataCheckBroken(
                f"data check {check!r} could not run on column {column!r} of the candidate "
                f"batch ({problem}): fix the extract query or data_checks/candidates.py"
            )
        if not result.success:
            failing[check].update(_candidate_ids(result.result["unexpected_index_list"]))
    failures: dict[int, list[str]] = {}
    for check, ids in failing.items():
        for candidate_id in ids:
            failures.setdefault(candidate_id, []).append(check)
    by_check = {check: len(ids) for check, ids in failing.items() if ids}
    return BatchFindings(
        checked=checked, failures=dict(sorted(failures.items())), by_check=by_check
    )


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """GX's error for a result: flat `{raised_exception, ..}`, or one such dict per metric."""
    if not info:
        return None
    reports = [info] if "raised_exception" in info else list(info.values())
    for report in reports:
        if isinstance(report, dict) and report.get("raised_exception"):
            return str(report.get("exception_message"))
    return None


def _candidate_ids(unexpected_index_list: list[dict[str, Any]]) -> list[int]:
    """Ids from GX's index list: `[{"id": [..]}]` without values, `[{"id": 1, ..}]` with them."""
    ids: list[int] = []
    for entry in unexpected_index_list:
        value = entry["id"]
        if isinstance(value, list):
            ids.extend(int(candidate_id) for candidate_id in value)
        else:
            ids.append(int(value))
    return ids


_shared: CandidateValidator | None = None
_shared_lock = threading.Lock()


def validate_candidates(
    frame: pd.DataFrame | Sequence[Mapping[str, Any]], now: datetime
) -> BatchFindings:
    """Validate one batch with the process-wide validator (built on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CandidateValidator()
    return _shared.validate(frame, now)


def _percent(share: float) -> str:
    return "under 0.1%" if 0 < share < 0.001 else f"{share:.1%}"


def quality_gate(
    checked: int, by_check: dict[str, int], failing_rows: int, threshold: float
) -> None:
    """Fail the run when the share of failing candidates is above `threshold` (0.05 = 5%)."""
    if checked <= 0 or failing_rows / checked <= threshold:
        return
    worst = sorted(by_check.items(), key=lambda item: (-item[1], item[0]))
    counts = ", ".join(f"{check} {count:,}" for check, count in worst if count)
    raise QualityGateFailed(
        f"data quality gate: {failing_rows:,} of {checked:,} candidates "
        f"({_percent(failing_rows / checked)}) failed checks, above the {threshold:.1%} "
        f"threshold: {counts}. Nothing was sent. Fix the upstream data (see decisions for ids) "
        "or raise VIVIER_QUALITY_THRESHOLD."
    )
