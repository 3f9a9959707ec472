"""prefect.yaml on a real Prefect server: `prefect deploy --all`, then a weekly run on a process worker.

Everything is real and on 127.0.0.1: `prefect server start`, the `prefect` CLI an operator types,
a `prefect worker` subprocess that runs the flow in its own subprocess, PostgreSQL, an SMTP server.
"""

from __future__ import annotations

import email.policy
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests import builders
from vivier.cadences import period_key, today_in
from vivier.schema import Candidate, Interaction, Send
from vivier.testing.prefect_server import PrefectServer, prefect_executable
from vivier.testing.smtp import SmtpSink

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow, pytest.mark.postgres, pytest.mark.smtp,
              pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
PARIS = "Europe/Paris"
CRONS = {"weekly": "0 9 * * 1", "monthly": "0 9 1 * *", "quarterly": "0 9 1 1,4,7,10 *"}


def prefect(server: PrefectServer, *args: str, timeout: float = 120, **env: str) -> str:
    """Run one `prefect …` command from the repo root, as an operator would; return its output."""
    argv = [prefect_executable(), *args]
    process = subprocess.Popen(argv, cwd=REPO, env=server.client_env(**env), text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the worker's flow-run child goes too
        output, _ = process.communicate()
        pytest.fail(f"`prefect {' '.join(args)}` still running after {timeout:.0f} s:\n{output[-4000:]}")
    assert process.returncode == 0, (
        f"`prefect {' '.join(args)}` exited with {process.returncode}:\n{output[-4000:]}"
        f"\n--- server log ---\n{server.log_tail()}"
    )
    return output


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
             ) -> Iterator[PrefectServer]:
    """A fresh Prefect server with the `vivier` process pool and prefect.yaml's deployments."""
    with PrefectServer.launch(tmp_path_factory.mktemp("prefect-home")) as server:
        request.getfixturevalue("pg_server")  # PostgreSQL boots while the Prefect server does
        server.wait_until_healthy(timeout=150)
        prefect(server, "work-pool", "create", "vivier", "--type", "process")
        # VIVIER_PROJECT_DIR is left unset here on purpose: the pull step then keeps its
        # placeholder and each worker resolves it from its own environment at run time.
        prefect(server, "deploy", "--all", "--no-prompt")
        yield server


@pytest.fixture
def api(deployed: PrefectServer) -> Iterator[None]:
    """Point this process's Prefect client at the throwaway server."""
    with temporary_settings(updates={PREFECT_API_URL: deployed.api_url}):
        yield


def test_deploy_all_registers_the_three_cadences_on_paris_schedules(deployed, api) -> None:
    with get_client(sync_client=True) as client:
        for cadence, cron in CRONS.items():
            deployment = client.read_deployment_by_name(f"nurture/{cadence}")
            assert deployment.entrypoint == "flows/nurture.py:nurture"
            assert deployment.work_pool_name == "vivier"
            assert deployment.parameters == {"cadence": cadence}
            assert [(s.schedule.cron, s.schedule.timezone, s.active)  # type: ignore[union-attr]
                    for s in deployment.schedules] == [(cron, PARIS, True)]
            # Prefect 3 keeps a deployment's concurrency limit as a global limit of its own.
            assert deployment.global_concurrency_limit is not None
            assert deployment.global_concurrency_limit.limit == 1
            assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory": {
                "directory": "{{ $VIVIER_PROJECT_DIR }}"}}]
            assert "vivier" in deployment.tags


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
def test_a_weekly_run_on_a_process_worker_messages_each_eligible_candidate_once(
    deployed: PrefectServer, api: None, engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    eligible = [builders.candidate(engine) for _ in range(4)]
    withdrawn = builders.candidate(engine, consent="withdrawn")
    passive = builders.candidate(engine, status="passive")  # a monthly candidate
    with engine.connect() as conn:
        emails = dict(conn.execute(sa.select(Candidate.id, Candidate.email)).all())
    today = today_in(ZoneInfo(PARIS))
    key = period_key("weekly", today)

    with SmtpSink() as sink:
        created = prefect(deployed, "deployment", "run", "nurture/weekly",
                          "--param", f"as_of={today.isoformat()}")
        match = re.search(r"UUID:\s*([0-9a-f-]{36})", created)
        assert match, f"no flow run id in `prefect deployment run` output:\n{created}"
        flow_run_id = UUID(match.group(1))
        worker_log = prefect(
            deployed, "worker", "start", "--pool", "vivier", "--run-once", timeout=180,
            VIVIER_DATABASE_URL=db_url, VIVIER_TRANSPORT="smtp", VIVIER_SMTP_HOST=sink.host,
            VIVIER_SMTP_PORT=str(sink.port), VIVIER_SMTP_TLS="plain",
            VIVIER_SECRET_KEY="integration-secret", VIVIER_PROJECT_DIR=str(REPO),
        )

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
    assert flow_run.state is not None and flow_run.state.is_completed(), (
        f"flow run ended {flow_run.state!r}; worker output:\n{worker_log[-4000:]}")
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
