"""Great Expectations checks that gate every cadence run, one module per dataset.

Every dataset module has the same shape: `DATASET`, `DESCRIPTION`, `THRESHOLD` (the default
share of failing rows a run tolerates), `prepare(frame)` (the batch as the checks read it) and
`expectations(now)` (check name -> GX expectation). `runner` validates batches and gates runs.
Great Expectations (8-30 s to import) is imported by the first validation, not by this package.
"""

import os

# Before GX is imported anywhere: no usage statistics leave the machine.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from data_checks.runner import (  # noqa: E402
    BatchFindings,
    CandidateValidator,
    DataCheckBroken,
    QualityGateFailed,
    QualityTally,
    quality_gate,
    validate_candidates,
)

__all__ = [
    "BatchFindings",
    "CandidateValidator",
    "DataCheckBroken",
    "QualityGateFailed",
    "QualityTally",
    "quality_gate",
    "validate_candidates",
]
