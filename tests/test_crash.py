"""Kill the sender at many points of the send phase: nobody is lost, nobody gets two messages,
and each kill leaves in doubt at most the window on the wire of each connection. The same holds
across send windows: kills in the cadence run's first wave and in the hourly deliver's later one."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import time
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from testing.smtp import SmtpSink
from tests import builders
from vivier.ledger import reconcile
from vivier.rules.cadences import today_in
from vivier.settings import get_settings
from vivier.store.schema import Candidate, Run, Send

pytestmark = [pytest.mark.usefixtures("prefect_harness", "catalog"), pytest.mark.smtp, pytest.mark.slow]

CANDIDATES = 2000
# (SMTP command, its number within the run) at which the sender is killed:
# MAIL = claimed and committed, not yet handed over; DATA = handed over, not yet recorded.
# Their sum stays well under CANDIDATES so every kill lands before the period completes.
KILL_POINTS = [("MAIL", 1), ("DATA", 1), ("DATA", 23), ("MAIL", 48), ("DATA", 75),
               ("MAIL", 99), ("DATA", 130), ("MAIL", 151), ("DATA", 177), ("DATA", 210)]
LEASE_SECONDS = 1  # a dead sender's claims go in doubt once they are older than this
MONDAY = date(2026, 11, 23)  # the send-window test's week: Lyon's wave at 08:00 UTC, Montréal's at 14:00
NINE_IN_PARIS = datetime(2026, 11, 23, 9).time().replace(tzinfo=ZoneInfo("Europe/Paris"))
MONTREAL_WAVE = "2026-11-23T14:00:00+00:00"
CHUNK, WINDOW, CONNECTIONS = 100, 8, 2  # rows read at once; claimed per commit; SMTP connections
MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE)
# Each sender is a process of its own, really SIGKILLed. They fork from a forkserver that has
# imported Prefect, the flow and Great Expectations once: 13 cold starts cost ~100 s of CPU.
SENDERS = multiprocessing.get_context("forkserver")
SENDERS.set_forkserver_preload(["flows.nurture", "flows.deliver", "great_expectations",
                                 "tests.test_crash"])


def send_weekly(env: dict[str, str], today: str) -> None:
    """One sender process: the weekly run with `env`, its output discarded."""
    from prefect.context import refresh_global_settings_context

    from flows.nurture import nurture

    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.environ.update(env)
    refresh_global_settings_context()  # Prefect read its settings when the forkserver imported it
    get_settings.cache_clear()
    nurture(cadence="weekly", as_of=date.fromisoformat(today))


def send_waves(env: dict[str, str], hour: str) -> None:
    """One sender process of the send-window test: the weekly run at 09:00 Paris on Monday
    2026-11-23 (`hour` "plan"), else the deliver run at that UTC `hour`."""
    from prefect.context import refresh_global_settings_context

    from flows.deliver import deliver
    from flows.nurture import nurture

    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.environ.update(env)
    refresh_global_settings_context()
    get_settings.cache_clear()
    if hour == "plan":
        nurture(cadence="weekly", as_of=MONDAY, force=True, clock=datetime.combine(MONDAY, NINE_IN_PARIS))
    else:
        deliver(clock=datetime.fromisoformat(hour))


def start_sender(env: dict[str, str], today: str, target=send_weekly) -> multiprocessing.process.BaseProcess:  # type: ignore[no-untyped-def]
    process = SENDERS.Process(target=target, args=(env, today))
    process.start()
    return process


def exit_code(process: multiprocessing.process.BaseProcess, timeout: float = 300) -> int:
    process.join(timeout)
    assert process.exitcode is not None, f"the sender was still running after {timeout:.0f} s"
    return process.exitcode


class Killer:
    """Kills the running sender when the SMTP server sees the chosen command."""

    def __init__(self) -> None:
        self.process: multiprocessing.process.BaseProcess | None = None
        self.target: tuple[str, int] | None = None
        self.base = Counter[str]()
        self.seen = Counter[str]()
        self.kills = 0

    def arm(self, process: multiprocessing.process.BaseProcess, target: tuple[str, int] | None) -> None:
        self.base = Counter(self.seen)
        self.process, self.target = process, target

    def on_command(self, command: str, _number: int) -> None:
        self.seen[command] += 1
        if self.target and self.process and command == self.target[0] \
                and self.seen[command] - self.base[command] == self.target[1]:
            os.kill(self.process.pid, signal.SIGKILL)
            self.kills += 1
            self.target = None


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sigkill_anywhere_in_the_send_phase_loses_nobody_and_duplicates_nobody(
        engine, settings, tmp_path) -> None:
    from prefect.settings import PREFECT_API_URL

    ids = builders.many_candidates(engine, CANDIDATES)
    killer = Killer()
    today = today_in(settings.zone).isoformat()
    with SmtpSink(on_command=killer.on_command) as sink:
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
               "VIVIER_TRANSPORT": "smtp", "VIVIER_SMTP_PORT": str(sink.port),
               "VIVIER_SMTP_TLS": "plain", "VIVIER_BATCH_SIZE": "500",
               "VIVIER_SEND_CHUNK_SIZE": str(CHUNK), "VIVIER_SEND_WINDOW": str(WINDOW),
               "VIVIER_SMTP_CONNECTIONS": str(CONNECTIONS),
               "VIVIER_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS), "VIVIER_TASK_RETRIES": "0"}
        runs, left_per_kill = 0, []
        for target in [*KILL_POINTS, None, None]:
            process = start_sender(env, today)
            killer.arm(process, target)
            code = exit_code(process)
            runs += 1
            if code == -signal.SIGKILL:
                left_per_kill.append(_held(engine))  # what the dead sender's claims will put in doubt
                # The restart comes after the lease, as it does in production: a warm sender
                # starting at once would rightly leave the dead one's fresh claims alone.
                time.sleep(LEASE_SECONDS)
            if target is None and code == 0:
                break
        with engine.connect() as conn:
            ledger = dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())
            address = dict(conn.execute(sa.select(Candidate.id, Candidate.email)).all())
        received = Counter(a for rcpts, _ in sink.messages for a in rcpts)
        in_doubt = [cid for cid, status in ledger.items() if status == "in_doubt"]

        assert killer.kills == len(KILL_POINTS)
        assert sorted(ledger) == sorted(ids)  # exactly one ledger row per eligible candidate
        assert set(ledger.values()) <= {"sent", "in_doubt"}
        assert max(received.values()) == 1  # nobody received anything twice
        assert all(received[address[cid]] == 1 for cid, s in ledger.items() if s == "sent")

        # Each kill leaves in doubt at most one window per connection, whatever the chunk size.
        assert max(left_per_kill) <= CONNECTIONS * WINDOW, left_per_kill
        assert len(in_doubt) <= len(KILL_POINTS) * CONNECTIONS * WINDOW

        # The SMTP server's accepted-id log settles what arrived; only the rest is resent.
        arrived = [cid for cid in in_doubt if received[address[cid]]]
        missing = [cid for cid in in_doubt if not received[address[cid]]]
        log = tmp_path / "accepted.txt"
        log.write_text("".join(found.group(1).decode() + "\n" for _, content in sink.messages
                               if (found := MESSAGE_ID.search(content))))
        key = _period(engine)
        accepted = reconcile.read_accepted_ids(log).message_ids
        assert reconcile.from_accepted_ids(engine, "weekly", key, accepted, log.name) == sorted(arrived)
        offered = reconcile.in_doubt(engine, "weekly", key, evidence_hours=0)
        assert offered.resendable == sorted(missing) and not offered.waiting
        assert reconcile.resend_after_wait(engine, "weekly", key, missing, 0) == sorted(missing)
        assert exit_code(start_sender(env, today)) == 0
        final = Counter(a for rcpts, _ in sink.messages for a in rcpts)

    assert set(final) == set(address.values())  # nobody eligible was lost
    assert max(final.values()) == 1  # duplicates = 0
    print(f"\ncrash test: {killer.kills} kills over {runs} runs (chunk {CHUNK}, window {WINDOW}, "
          f"{CONNECTIONS} connections), in doubt per kill {left_per_kill}, {len(in_doubt)} in all "
          f"({len(arrived)} had arrived: reconciled from the server's log; {len(missing)} resent), "
          "duplicates = 0")


def _held(engine: sa.Engine) -> int:
    """Rows still claimed (`sending`): a dead sender's, which the next run finds in doubt."""
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(Send).where(Send.status == "sending"))


def _period(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(Send.period_key).limit(1)).scalar_one()


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sigkill_in_either_wave_loses_nobody_and_duplicates_nobody(engine, settings, tmp_path) -> None:
    """Lyon's wave leaves with the cadence run, Montréal's with the deliver run five hours later:
    a kill in each wave and between them, then reruns, reconcile and resend, as in production."""
    from prefect.settings import PREFECT_API_URL

    lyon = builders.many_candidates(engine, 150, prefix="L")
    montreal = builders.many_candidates(engine, 250, prefix="M")
    with engine.begin() as conn:
        conn.execute(sa.update(Candidate).where(Candidate.id.in_(montreal))
                     .values(city="Montréal", search_location="Montréal"))
    killer = Killer()
    with SmtpSink(on_command=killer.on_command) as sink:
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "VIVIER_ENV": "demo",
               "VIVIER_SEND_HOURS_WEEKLY": "mon-fri 09:00-11:30",  # the real windows, a clock
               "VIVIER_TRANSPORT": "smtp", "VIVIER_SMTP_PORT": str(sink.port), "VIVIER_SMTP_TLS": "plain",
               "VIVIER_SEND_CHUNK_SIZE": str(CHUNK), "VIVIER_SEND_WINDOW": str(WINDOW),
               "VIVIER_SMTP_CONNECTIONS": str(CONNECTIONS), "VIVIER_BATCH_SIZE": "100",
               "VIVIER_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS), "VIVIER_TASK_RETRIES": "0"}
        steps = [("plan", ("DATA", 40)), ("plan", None),  # the first wave, killed, then completed
                 (MONTREAL_WAVE, ("MAIL", 1)), (MONTREAL_WAVE, ("DATA", 60)),
                 (MONTREAL_WAVE, ("MAIL", 70)), (MONTREAL_WAVE, None)]
        codes = []
        for hour, target in steps:
            process = start_sender(env, hour, send_waves)
            killer.arm(process, target)
            codes.append(exit_code(process))
            time.sleep(LEASE_SECONDS)  # a dead sender's claims are past their lease for the next
        with engine.connect() as conn:
            ledger = dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())
            address = dict(conn.execute(sa.select(Candidate.id, Candidate.email)).all())
        received = Counter(a for rcpts, _ in sink.messages for a in rcpts)
        in_doubt = sorted(cid for cid, status in ledger.items() if status == "in_doubt")

        assert codes == [-signal.SIGKILL, 0, -signal.SIGKILL, -signal.SIGKILL, -signal.SIGKILL, 0]
        assert sorted(ledger) == sorted(lyon + montreal) and set(ledger.values()) <= {"sent", "in_doubt"}
        assert max(received.values()) == 1
        assert len(in_doubt) <= 4 * CONNECTIONS * WINDOW
        # Each wave left with its own run: Lyon's at 09:00 Paris, Montréal's at 09:00 there.
        with engine.connect() as conn:
            by_kind = conn.execute(sa.select(Run.kind, Send.candidate_id).join(Run, Run.id == Send.run_id)
                                   .where(Send.status == "sent")).all()
        assert {cid for kind, cid in by_kind if kind == "plan"} <= set(lyon)
        assert {cid for kind, cid in by_kind if kind == "deliver"} <= set(montreal)

        # Settle the in-doubt rows from the server's log; resend the rest with the next deliver.
        arrived = [cid for cid in in_doubt if received[address[cid]]]
        missing = [cid for cid in in_doubt if not received[address[cid]]]
        log = tmp_path / "accepted.txt"
        log.write_text("".join(found.group(1).decode() + "\n" for _, content in sink.messages
                               if (found := MESSAGE_ID.search(content))))
        accepted = reconcile.read_accepted_ids(log).message_ids
        assert reconcile.from_accepted_ids(engine, "weekly", "2026-W48", accepted, log.name) == arrived
        assert reconcile.resend_after_wait(engine, "weekly", "2026-W48", missing, 0) == missing
        # A resent Lyon message's window has closed by 14:00 UTC: it leaves the next morning.
        for hour in (MONTREAL_WAVE, "2026-11-24T08:00:00+00:00"):
            assert exit_code(start_sender(env, hour, send_waves)) == 0
        final = Counter(a for rcpts, _ in sink.messages for a in rcpts)

    assert set(final) == {address[cid] for cid in lyon + montreal}  # nobody lost
    assert max(final.values()) == 1  # duplicates = 0
    print(f"\nsend-window crash test: {killer.kills} kills over two waves, {len(in_doubt)} in doubt "
          f"({len(arrived)} reconciled, {len(missing)} resent by the next deliver), duplicates = 0")
