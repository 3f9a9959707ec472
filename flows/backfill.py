"""The `backfill` flow: one `nurture` run per missed period, oldest first (startable from the UI)."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, tags
from prefect.artifacts import create_table_artifact

from flows.nurture import nurture
from vivier.pipeline.backfill import PeriodStep, plan_backfill
from vivier.pipeline.resources import current
from vivier.rules.cadences import CadenceName, today_in


def run_period(cadence: str, step: PeriodStep, dry_run: bool) -> dict:
    """Run one period of a backfill, named and tagged so the UI shows it for what it is."""
    named = nurture.with_options(flow_run_name=f"backfill-{cadence}-{step.period_key}")
    with tags("vivier", "backfill", cadence):  # the UI's filters and automations see them all
        # force: lateness was already judged for the whole backfill by plan_backfill.
        return named(cadence=cadence, as_of=step.as_of, dry_run=dry_run, force=True)


@flow(name="backfill", flow_run_name="backfill-{cadence}-{since}-{until}")
def backfill(
    cadence: CadenceName, since: date, until: date, dry_run: bool = False, force: bool = False,
    skip_refused: bool = False,
) -> list[dict]:
    """Send every unfinished period of `cadence` between `since` and `until`, oldest first.

    A period is complete (skipped) when the ledger says so; one past its lateness limit is
    refused unless `force`: the backfill then ends Failed, listing them, unless `skip_refused`.
    """
    resources = current()
    settings = resources.settings
    logger = get_run_logger()
    steps = plan_backfill(resources.engine, cadence, since, until,
                          today_in(settings.zone), settings.lateness_days(cadence), force)
    outcomes = []
    for step in steps:
        row = {"period": step.period_key, "action": step.action, "reason": step.reason, "sent": 0}
        if step.action == "run":
            summary = run_period(cadence, step, dry_run)
            row["sent"] = summary["stages"].get("sent", 0)
        logger.info("%s %s: %s %s", cadence, step.period_key, step.action, step.reason)
        outcomes.append(row)
    create_table_artifact(table=outcomes, key=f"backfill-{cadence}".lower(),
                          description=f"Backfill of {cadence} from {since} to {until}")
    refused = [row["period"] for row in outcomes if row["action"] == "refuse"]
    if refused and not skip_refused:
        raise RuntimeError(
            f"{len(refused)} period(s) refused, past the {cadence} lateness limit: {', '.join(refused)}; "
            "the others ran. Send them anyway with force=true (`vivier backfill … --force`), or "
            "accept skipping them with skip_refused=true."
        )
    return outcomes
