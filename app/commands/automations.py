"""`vivier ops install-automations`: the alerts in ops/automations/*.yaml, installed on a Prefect server.

Each file is one Prefect automation (trigger + send-notification actions) in Prefect's own shape,
without the notification block: the command fills in the block the team configured by name, and
replaces the automations it installed before (by their `vivier: ` names) instead of adding copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from app.commands.common import console, err_console, load

DEFINITIONS = Path(__file__).resolve().parents[2] / "ops" / "automations"
PREFIX = "vivier: "  # every automation this command owns; others are left alone

app = typer.Typer(help="Operations on the Prefect server: alerting automations.",
                  no_args_is_help=True)


class AlertSetupError(RuntimeError):
    """The automations cannot be installed as asked; the message says what to fix."""


def load_definitions(folder: Path = DEFINITIONS) -> list[dict[str, Any]]:
    """The automations of `folder` (one YAML file each), checked against Prefect's schema."""
    from prefect.events.schemas.automations import AutomationCore

    definitions = []
    for path in sorted(folder.glob("*.yaml")):
        definition = yaml.safe_load(path.read_text())
        if not str(definition.get("name", "")).startswith(PREFIX):
            raise AlertSetupError(f"{path}: the automation's name must start with {PREFIX!r}")
        for action in definition.get("actions", []):
            action.setdefault("block_document_id", "00000000-0000-0000-0000-000000000000")
        AutomationCore.model_validate(definition)  # a typo fails here, before anything is replaced
        definitions.append(definition)
    return definitions


def find_block(name: str) -> Any:
    """The notification block document called `name` (or `type-slug/name`), or a clear error."""
    from prefect import get_client

    slug, _, bare = name.rpartition("/")
    with get_client(sync_client=True) as client:
        found = client.read_block_documents(include_secrets=False)
    found = [doc for doc in found if doc.name == bare
             and (not slug or (doc.block_type and doc.block_type.slug == slug))]
    notifiers = [doc for doc in found if "notify" in (doc.block_schema.capabilities
                                                       if doc.block_schema else [])]
    if len(notifiers) == 1:
        return notifiers[0]
    if not found:
        raise AlertSetupError(
            f"no block named {name!r} on the Prefect server: create a notification block "
            f"(Slack, webhook, email…) of that name in the UI (Blocks) or in Python, or set "
            f"VIVIER_ALERT_BLOCK / --block to the one you have (README, \"Alerting\").")
    if not notifiers:
        raise AlertSetupError(f"the block {name!r} cannot send notifications: choose a "
                              f"notification block (Slack webhook, custom webhook, email…)")
    kinds = ", ".join(sorted(f"{doc.block_type.slug}/{bare}" for doc in notifiers if doc.block_type))
    raise AlertSetupError(f"several notification blocks are named {name!r} ({kinds}): "
                          f"give --block as type/name")


def install(definitions: list[dict[str, Any]], block_name: str) -> list[str]:
    """Replace every `vivier: ` automation on the server with `definitions`, notifying `block_name`."""
    from prefect import get_client
    from prefect.events.schemas.automations import AutomationCore

    block = find_block(block_name)
    automations = []
    for definition in definitions:
        actions = [{**action, "block_document_id": str(block.id)}
                   if action.get("type") == "send-notification" else action
                   for action in definition.get("actions", [])]
        automations.append(AutomationCore.model_validate({**definition, "actions": actions}))
    with get_client(sync_client=True) as client:
        for old in client.read_automations():
            if old.name.startswith(PREFIX):
                client.delete_automation(old.id)
        for automation in automations:
            client.create_automation(automation)
    return [automation.name for automation in automations]


def install_automations(
    block: str | None = typer.Option(None, "--block",
                                     help="the notification block to send alerts through (name, or type/name); default: VIVIER_ALERT_BLOCK"),
    folder: Path = typer.Option(DEFINITIONS, "--from", exists=True, file_okay=False,
                                help="the folder of automation files"),
) -> None:
    """Install the alerting automations (ops/automations/*.yaml) on the Prefect server, replacing the previous ones.

    Alerts: a vivier run Failed or Crashed; a guardrail stopped a run; the weekly run not Completed an hour after it started (or went Late); no weekly run Completed for 8 days. Each goes to one Prefect notification block, created once by the team.

    Examples:

      vivier ops install-automations                        # notifies the block `vivier-alerts`

      VIVIER_ALERT_BLOCK=ops-slack vivier ops install-automations

      vivier ops install-automations --block slack-webhook/ops-slack   # two blocks share the name

    The Prefect server is PREFECT_API_URL's (as for `prefect deploy`). Rerunning it is safe: the automations named `vivier: …` are replaced, not duplicated.
    """
    block = block or load().alert_block
    try:
        names = install(load_definitions(folder), block)
    except AlertSetupError as problem:
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2) from None
    for name in names:
        console.print(f"installed: {name}")
    console.print(f"{len(names)} automations notify the block {block!r}.")


app.command("install-automations")(install_automations)
