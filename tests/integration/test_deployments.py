"""prefect.yaml on a real Prefect server: `prefect deploy --all`, then a weekly run on a process worker.

Everything is real and on 127.0.0.1: `prefect server start`, the `prefect` CLI an operator types
(started ahead, see testing.prefect_server), a `prefect worker` that runs the flow in its
own subprocess, PostgreSQL, an SMTP server. Run alone: `pytest -m prefect_server`.
"""

from __future__ import annotations

import email.policy
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import yaml
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import Artifact
from prefect.client.schemas.responses import DeploymentResponse
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker

from testing.prefect_server import PrefectServer, PreparedCommand
from testing.smtp import SmtpSink
from tests import builders
from vivier.rules.cadences import period_key, today_in
from vivier.store.schema import Candidate, Interaction, Send

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow, pytest.mark.postgres, pytest.mark.smtp,
              pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[2]
PARIS = "Europe/Paris"
CRONS = {"weekly": "0 9 * * 1", "monthly": "0 9 1 * *", "quarterly": "0 9 1 1,4,7,10 *"}


@dataclass
class Operator:
    """A Prefect server with prefect.yaml deployed, and the operator's next two commands ready."""

    server: PrefectServer
    trigger: PreparedCommand  # for `prefect deployment run …`
    worker: PreparedCommand  # for `prefect worker start …`


def succeeded(done: subprocess.CompletedProcess[str], server: PrefectServer) -> str:
    """The command's output, or a failure showing it and the end of the server's log."""
    assert done.returncode == 0, (
        f"`{' '.join(done.args)}` exited with {done.returncode}:\n{done.stdout[-4000:]}"
        f"\n--- server log ---\n{server.log_tail()}"
    )
    return done.stdout


def create_process_pool(server: PrefectServer, name: str) -> None:
    """What `prefect work-pool create NAME --type process` does, minus its registry look-up."""
    # That CLI asks the server for Prefect's collection registry, which the server fetches
    # from GitHub: a test must not reach beyond 127.0.0.1 (and this saves a CLI start).
    template = ProcessWorker.get_default_base_job_template()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}), \
            get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
             ) -> Iterator[Operator]:
    """A fresh Prefect server with the `vivier` process pool and prefect.yaml's deployments."""
    with PrefectServer.launch(tmp_path_factory.mktemp("prefect-home")) as server:
        # Each command imports while the server and PostgreSQL boot; the deploy also
        # imports the flow's dependencies, as `prefect deploy` loads the flow.
        deploy = server.prepare(REPO, preload=["prefect.cli.deploy", "flows.nurture"])
        trigger = server.prepare(REPO, preload=["prefect.cli.deployment"])
        worker = server.prepare(REPO, preload=["prefect.cli.worker", "prefect.workers.process"])
        request.getfixturevalue("pg_server")
        server.wait_until_healthy(timeout=240)
        create_process_pool(server, "vivier")
        # VIVIER_PROJECT_DIR is unset here on purpose: the pull step then keeps its
        # placeholder and each worker resolves it from its own environment at run time.
        succeeded(deploy.run("deploy", "--all", "--no-prompt", timeout=240), server)
        yield Operator(server, trigger, worker)


@pytest.fixture
def api(operator: Operator) -> Iterator[None]:
    """Point this process's Prefect client at the throwaway server."""
    with temporary_settings(updates={PREFECT_API_URL: operator.server.api_url}):
        yield


def registered(name: str) -> DeploymentResponse:
    """The deployment called `name` on the server (whatever its flow), or a clear failure."""
    with get_client(sync_client=True) as client:
        found = [d for d in client.read_deployments() if d.name == name]
    assert len(found) == 1, f"{len(found)} deployments named {name!r} on the server after deploy"
    return found[0]


def test_deploy_all_registers_every_deployment_of_prefect_yaml_as_written(operator, api) -> None:
    declared = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    for spec in declared:
        deployment = registered(spec["name"])
        assert deployment.entrypoint == spec["entrypoint"]
        assert deployment.work_pool_name == spec["work_pool"]["name"]
        assert deployment.parameters == (spec.get("parameters") or {})
        assert [(s.schedule.cron, s.schedule.timezone)  # type: ignore[union-attr]
                for s in deployment.schedules] == [(s["cron"], s["timezone"])
                                                   for s in spec.get("schedules") or []]
        # Prefect 3 keeps a deployment's concurrency limit as a global limit of its own.
        limit = deployment.global_concurrency_limit
        assert (limit.limit if limit else None) == spec.get("concurrency_limit")


def test_the_three_cadences_are_scheduled_on_paris_mornings_one_run_at_a_time(operator, api) -> None:
    for cadence, cron in CRONS.items():
        deployment = registered(cadence)
        assert deployment.entrypoint == "flows/nurture.py:nurture"
        assert deployment.parameters == {"cadence": cadence}
        assert [(s.schedule.cron, s.schedule.timezone, s.active)  # type: ignore[union-attr]
                for s in deployment.schedules] == [(cron, PARIS, True)]
        assert deployment.global_concurrency_limit is not None
        assert deployment.global_concurrency_limit.limit == 1
        # Deployed without VIVIER_PROJECT_DIR: each worker's own value decides where the code is.
        assert deployment.pull_steps == [{"flows.code_location.enter_project_dir": {
            "directory": "{{ $VIVIER_PROJECT_DIR }}"}}]


def test_a_worker_without_vivier_project_dir_fails_the_run_naming_the_variable(operator, api) -> None:
    server = operator.server
    trigger = server.prepare(REPO, preload=["prefect.cli.deployment"])
    worker = server.prepare(REPO, preload=["prefect.cli.worker", "prefect.workers.process"])
    created = succeeded(trigger.run("deployment", "run", "report/report"), server)
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", created)
    assert match, f"no flow run id in `prefect deployment run` output:\n{created}"
    # The worker's environment has no VIVIER_PROJECT_DIR (clean_environment drops VIVIER_*).
    worker_log = worker.run("worker", "start", "--pool", "vivier", "--run-once", timeout=300).stdout

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(match.group(1)))
    assert flow_run.state is not None and (flow_run.state.is_failed() or flow_run.state.is_crashed())
    assert "VIVIER_PROJECT_DIR is not set for this worker" in worker_log, worker_log[-6000:]
    assert "flows/report.py" not in worker_log  # the old, puzzling FileNotFoundError
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
    # …and in the run's log, in the UI, where the person who sees the crashed run looks.
    assert [log for log in logs if "VIVIER_PROJECT_DIR is not set" in log.message], (
        [log.message[:200] for log in logs])


def addressees(sink: SmtpSink) -> list[str]:
    """The To address of every message the sink accepted, sorted."""
    found = []
    for _, content in sink.messages:
        parsed = message_from_bytes(content, policy=email.policy.default)
        found.append(parsed["To"].addresses[0].addr_spec)
    return sorted(found)


def run_artifacts(flow_run_id: UUID) -> dict[str, Artifact]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {artifact.key: artifact for artifact in found if artifact.key}


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.usefixtures("catalog")
def test_a_weekly_run_on_a_process_worker_messages_each_eligible_candidate_once(
    operator: Operator, api: None, engine: sa.Engine, db_url: str
) -> None:
    eligible = [builders.candidate(engine) for _ in range(4)]
    withdrawn = builders.candidate(engine, consent="withdrawn")
    passive = builders.candidate(engine, status="passive")  # a monthly candidate
    with engine.connect() as conn:
        emails = dict(conn.execute(sa.select(Candidate.id, Candidate.email)).all())
    today = today_in(ZoneInfo(PARIS))
    key = period_key("weekly", today)

    with SmtpSink() as sink:
        created = succeeded(operator.trigger.run(
            "deployment", "run", "nurture/weekly", "--param", f"as_of={today.isoformat()}"),
            operator.server)
        match = re.search(r"UUID:\s*([0-9a-f-]{36})", created)
        assert match, f"no flow run id in `prefect deployment run` output:\n{created}"
        flow_run_id = UUID(match.group(1))
        worked = operator.worker.run(
            "worker", "start", "--pool", "vivier", "--run-once", timeout=300,
            VIVIER_DATABASE_URL=db_url, VIVIER_TRANSPORT="smtp", VIVIER_SMTP_HOST=sink.host,
            VIVIER_SMTP_PORT=str(sink.port), VIVIER_SMTP_TLS="plain",
            VIVIER_SECRET_KEY="integration-secret-key-of-32-bytes-or-more", VIVIER_PROJECT_DIR=str(REPO),
            VIVIER_SEND_HOURS_WEEKLY="always",  # whatever the hour the test runs at, all leave now
        )
    worker_log = succeeded(worked, operator.server)

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
    assert flow_run.state is not None and flow_run.state.is_completed(), (
        f"flow run ended {flow_run.state!r}; worker output:\n{worker_log[-6000:]}")
    assert flow_run.name == f"weekly-{key}"
    assert flow_run.parameters["as_of"] == today.isoformat()

    assert addressees(sink) == sorted(emails[c] for c in eligible)
    assert not sink.received_for(emails[withdrawn]) and not sink.received_for(emails[passive])
    with engine.connect() as conn:
        sends = conn.execute(sa.select(Send.candidate_id, Send.status, Send.flow_run_id,
                                       Send.period_key)).all()
        sent_events = conn.execute(sa.select(Interaction.candidate_id, Interaction.flow_run_id)
                                   .where(Interaction.kind == "message_sent")).all()
    assert sorted(sends) == sorted((c, "sent", str(flow_run_id), key) for c in eligible)
    assert sorted(sent_events) == sorted((c, str(flow_run_id)) for c in eligible)

    artifacts = run_artifacts(flow_run_id)
    summary = artifacts.get(f"weekly-{key}-summary".lower())
    assert summary is not None, f"no summary artifact; the run has {sorted(artifacts)}"
    assert not [address for address in emails.values() if address in str(summary.data)]
