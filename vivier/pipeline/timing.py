"""Plan once, deliver when due: each planned row's send window, and which rows are due now.

The rules are `vivier.rules.zones` (whose clock) and `vivier.rules.send_window` (which hours);
this module gives them a run's settings and clock, for planning and for the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vivier.ledger.moves import Due
from vivier.pipeline.runs import RunSpec
from vivier.rules.send_window import Waves, last_moment
from vivier.rules.zones import CandidateZone, candidate_zone
from vivier.settings import Settings


@dataclass(frozen=True)
class Slot:
    """When one planned message may leave (UTC), until when, and the zone it was timed in."""

    not_before: datetime
    send_by: datetime
    zone: str

    def columns(self) -> dict[str, Any]:
        """The ledger row's columns."""
        return {"not_before": self.not_before, "send_by": self.send_by, "zone": self.zone}


class Timing:
    """One run's send windows: the cadence's hours in each candidate's zone, from the run's clock,
    up to the period's lateness limit."""

    def __init__(self, settings: Settings, spec: RunSpec) -> None:
        lateness = settings.lateness_days(settings.timing_cadence(spec.cadence))
        self.moment = spec.send_clock
        self.team_zone = settings.team_timezone
        self.waves = Waves(settings.send_hours(spec.cadence), self.moment)
        self.send_by = last_moment(spec.period_start, lateness, self.team_zone, self.moment)
        self._slots: dict[CandidateZone, Slot] = {}

    def slot(self, candidate: dict[str, Any]) -> Slot:
        zone = candidate_zone(candidate, self.team_zone)
        if (known := self._slots.get(zone)) is None:  # a run's window per zone: once
            known = self._slots[zone] = Slot(self.waves.not_before(zone), self.send_by, zone.name)
        return known

    def too_late(self, slot: Slot) -> str | None:
        """Why the candidate's window opens only after the period's lateness limit, or None."""
        if slot.not_before < slot.send_by:
            return None
        return (f"send window opens {slot.not_before:%Y-%m-%d %H:%M} UTC ({slot.zone}), after the "
                f"period's lateness limit ({slot.send_by:%Y-%m-%d %H:%M} UTC)")

    def waits(self, slot: Slot) -> bool:
        """The message waits for a later window than the run's own clock."""
        return slot.not_before > self.moment


def due(settings: Settings, cadence: str, moment: datetime) -> Due:
    """The rows of `cadence` that may leave at `moment`: their window is open."""
    return Due(moment, settings.send_hours(cadence).length)
