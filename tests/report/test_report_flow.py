"""The `report` flow publishes the report as Prefect artifacts: figures, never a candidate."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from flows.report import report
from tests.report import hand_history

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_flow_publishes_markdown_and_table_artifacts_without_pii(engine, settings) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    hand_history.write(engine)
    result = report(cadence="weekly")
    assert (result["rows"], result["sent"], result["applied"], result["holdout"]) == (1, 6, 3, 3)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(result["flow_run_id"])])))
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert {"nurturing-report", "nurturing-report-table"} <= set(by_key)
    assert "2026-W10" in by_key["nurturing-report"].data
    assert "unreliable" in by_key["nurturing-report"].data
    data = by_key["nurturing-report-table"].data
    (row,) = json.loads(data) if isinstance(data, str) else data
    assert (row["cadence"], row["segment"], row["period"]) == ("weekly", "tech", "2026-W10")
    assert (row["sent"], row["applied"], row["holdout"], row["apply_uplift_pp"]) == (6, 3, 3, 16.67)
    published = " ".join(str(artifact.data) for artifact in artifacts)
    assert "example.org" not in published and "Martin" not in published
