"""Feeds in: openings and content upserted by their feed id; closed or expired items never shown."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from vivier.imports.content import import_content
from vivier.imports.jobs import import_jobs
from vivier.messages.catalog import load_catalog
from vivier.store.schema import Content, Job

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
AS_OF = date(2026, 11, 20)
JOB_HEADER = ("external_id,title,company,city,country,remote,languages,expertise,url,status,"
              "published_at,closes_at")


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jsonl(path: Path, *items: dict) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def jobs_of(engine: sa.Engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {job.external_id: job for job in conn.execute(sa.select(Job))}


def opening_titles(engine: sa.Engine, as_of: date = AS_OF) -> set[str]:
    with engine.connect() as conn:
        catalog = load_catalog(conn, as_of, PARIS)
    return {job["title"] for jobs in catalog.jobs_by_expertise.values() for job in jobs}


def shown_content(engine: sa.Engine, language: str = "fr") -> set[str]:
    with engine.connect() as conn:
        catalog = load_catalog(conn, AS_OF, PARIS)
    return {item["title"] for items in catalog.content_for(language).values() for item in items}


@pytest.mark.both_dialects
def test_jobs_upsert_by_ats_id_counting_new_updated_and_unchanged_rows(
    engine: sa.Engine, tmp_path: Path
) -> None:
    first = write(tmp_path / "jobs.csv", JOB_HEADER,
                  "J-1,Data engineer,Acme,Lyon,France,hybrid,fr;en,Data,https://jobs.example.org/1,,"
                  "2026-11-10,2027-01-31",
                  "J-2,Analyst,Acme,,,remote,en,Data,https://jobs.example.org/2,open,2026-11-12,")
    report = import_jobs(engine, first, zone=PARIS, now=NOW)
    assert (report.read, report.imported, report.updated, report.skipped, report.rejected) == \
        (2, 2, 0, 0, [])
    again = import_jobs(engine, first, zone=PARIS, now=NOW)
    assert (again.imported, again.updated, again.skipped) == (0, 0, 2)  # idempotent

    changed = write(tmp_path / "jobs2.csv", JOB_HEADER,
                    "J-1,Senior data engineer,Acme,Lyon,France,onsite,fr,Data,"
                    "https://jobs.example.org/1,,2026-11-10,2027-01-31",
                    "J-2,Analyst,Acme,,,remote,en,Data,https://jobs.example.org/2,open,2026-11-12,",
                    "J-3,Payroll,Acme,,Canada,,fr-CA,Paie,https://jobs.example.org/3,,2026-11-15,")
    report = import_jobs(engine, changed, zone=PARIS, now=NOW)
    assert (report.imported, report.updated, report.skipped) == (1, 1, 1)
    jobs = jobs_of(engine)
    assert jobs["J-1"].title == "Senior data engineer" and jobs["J-1"].remote == "onsite"
    assert jobs["J-1"].languages == ["fr"] and jobs["J-1"].location == "Lyon"
    assert jobs["J-1"].closes_at == datetime(2027, 1, 30, 23, tzinfo=UTC)  # midnight in Paris
    assert (jobs["J-2"].location, jobs["J-2"].locale, jobs["J-2"].status) == ("Remote", "en", "open")
    assert (jobs["J-3"].location, jobs["J-3"].country, jobs["J-3"].languages) == \
        ("Canada", "Canada", ["fr"])


@pytest.mark.both_dialects
def test_content_upserts_by_feed_id_and_keeps_an_events_start_with_its_zone(
    engine: sa.Engine, tmp_path: Path
) -> None:
    base = {"language": "fr", "published_at": "2026-11-01"}
    feed = jsonl(
        tmp_path / "content.jsonl",
        {**base, "external_id": "E-1", "kind": "event", "title": "Afterwork", "place": "Lyon",
         "url": "https://blog.example.org/e1", "starts_at": "2026-12-03T18:30",
         "timezone": "Europe/Paris"},
        {**base, "external_id": "E-2", "kind": "event", "title": "Job fair", "language": "en-CA",
         "url": "https://blog.example.org/e2", "starts_at": "2026-12-03T18:30:00-05:00"},
        {**base, "external_id": "S-1", "kind": "story", "title": "Hired in Lyon",
         "url": "https://blog.example.org/s1", "tags": "Data; tech;Data"})
    report = import_content(engine, feed, zone=PARIS, now=NOW)
    assert (report.imported, report.rejected) == (3, [])
    assert import_content(engine, feed, zone=PARIS, now=NOW).skipped == 3
    with engine.connect() as conn:
        items = {item.external_id: item for item in conn.execute(sa.select(Content))}
    assert items["E-1"].event_at == datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
    assert (items["E-1"].event_zone, items["E-1"].place) == ("Europe/Paris", "Lyon")
    assert items["E-2"].event_at == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
    assert (items["E-2"].event_zone, items["E-2"].locale) == ("-05:00", "en")
    assert items["S-1"].kind == "success_story" and items["S-1"].tags == ["Data", "tech"]

    moved = jsonl(tmp_path / "moved.jsonl",
                  {**base, "external_id": "E-1", "kind": "event", "title": "Afterwork",
                   "url": "https://blog.example.org/e1", "starts_at": "2026-12-04T19:00+01:00"})
    report = import_content(engine, moved, zone=PARIS, now=NOW)
    assert (report.imported, report.updated) == (0, 1)


def test_content_stored_before_feeds_had_ids_is_taken_over_by_its_url(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Content), {"kind": "tip", "locale": "fr", "title": "Old",
                                          "url": "https://blog.example.org/t",
                                          "published_at": NOW - timedelta(days=3)})
    feed = jsonl(tmp_path / "c.jsonl", {"external_id": "T-1", "kind": "tip", "language": "fr",
                                        "title": "New", "url": "https://blog.example.org/t",
                                        "published_at": "2026-11-17"})
    report = import_content(engine, feed, zone=PARIS, now=NOW)
    assert (report.imported, report.updated) == (0, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.select(Content.external_id, Content.title)).all() == [("T-1", "New")]


def test_closed_openings_are_never_in_the_catalog(engine: sa.Engine, tmp_path: Path) -> None:
    feed = write(tmp_path / "jobs.csv",
                 "external_id,title,city,languages,expertise,url,status,published_at,closes_at,closed_at",
                 "J-open,open,Lyon,fr,Data,https://j.example.org/1,,2026-11-10,2026-12-31,",
                 "J-status,closed by status,Lyon,fr,Data,https://j.example.org/2,closed,2026-11-10,,",
                 "J-past,past its closing date,Lyon,fr,Data,https://j.example.org/3,,2026-11-10,"
                 "2026-11-19,",
                 "J-closed-at,closed_at given,Lyon,fr,Data,https://j.example.org/4,,2026-11-10,,"
                 "2026-11-18")
    assert import_jobs(engine, feed, zone=PARIS, now=NOW).rejected == []
    assert opening_titles(engine) == {"open"}
    assert jobs_of(engine)["J-closed-at"].status == "closed"
    reopened = write(tmp_path / "again.csv", "external_id,title,city,languages,url,status,published_at",
                     "J-open,open,Lyon,fr,https://j.example.org/1,closed,2026-11-10")
    assert import_jobs(engine, reopened, zone=PARIS, now=NOW).updated == 1
    assert opening_titles(engine) == set()  # the feed closed it: the next run shows it no more


def test_expired_content_is_never_shown(engine: sa.Engine, tmp_path: Path) -> None:
    base = {"kind": "article", "language": "fr", "published_at": "2026-11-01"}
    feed = jsonl(tmp_path / "c.jsonl",
                 {**base, "external_id": "A-1", "title": "current", "url": "https://b.example.org/1",
                  "expires_at": "2026-12-31"},
                 {**base, "external_id": "A-2", "title": "expired", "url": "https://b.example.org/2",
                  "expires_at": "2026-11-19T08:00:00+01:00"},
                 {**base, "external_id": "A-3", "title": "lasting", "url": "https://b.example.org/3"})
    assert import_content(engine, feed, zone=PARIS, now=NOW).rejected == []
    assert shown_content(engine) == {"current", "lasting"}


BAD_JOBS = [
    ("J-1,=1+1,Lyon,fr,https://j.example.org/1,2026-11-01,", "formula"),
    ("J-2,Dev,Lyon,fr,http://j.example.org/2,2026-11-01,", "https"),
    ("J-3,Dev,Lyon,fr,https://user:pw@j.example.org/3,2026-11-01,", "user name"),
    ("J-4,Dev,Lyon,de,https://j.example.org/4,2026-11-01,", "unsupported language"),
    ("J-5,Dev,,fr,https://j.example.org/5,2026-11-01,", "no place"),
    ("J-6,Dev,Lyon,fr,https://j.example.org/6,0001-01-01,", "before 1900"),
    ("J-7,Dev,Lyon,fr,https://j.example.org/7,2026-12-25,", "in the future"),
    ("J-8,Dev,Lyon,fr,https://j.example.org/8,2026-11-01,9999-12-31", "years ahead"),
    ("J-9,Dev,Lyon,fr,https://j.example.org/9,2026-11-01,9999-12-31T23:59:59-14:00",
     "end of the calendar"),
    ("J-10,Dev,Lyon,fr,https://j.example.org/10,2026-02-30,", "not an ISO 8601 date"),
    ('J-11,"Dev\tOps",Lyon,fr,https://j.example.org/11,2026-11-01,', "control"),
    (f"J-12,{'x' * 301},Lyon,fr,https://j.example.org/12,2026-11-01,", "limit is 300"),
    (f"{'J' * 65},Dev,Lyon,fr,https://j.example.org/13,2026-11-01,", "never cut"),
    ("J-14,Dev,Lyon,fr,https://j.example.org/14,2026-11-01,,onsite", "fields where the header"),
    ("J-ok,Dev again,Lyon,fr,https://j.example.org/15,2026-11-01,", "already on line 2"),
]


def test_bad_job_rows_are_rejected_with_their_line_and_the_good_ones_imported(
    engine: sa.Engine, tmp_path: Path
) -> None:
    feed = write(tmp_path / "jobs.csv", "external_id,title,city,languages,url,published_at,closes_at",
                 "J-ok,Dev,Lyon,fr,https://j.example.org/ok,2026-11-01,",
                 *(line for line, _ in BAD_JOBS))
    report = import_jobs(engine, feed, zone=PARIS, now=NOW)
    assert report.imported == 1 and set(jobs_of(engine)) == {"J-ok"}
    reasons = {rejection.line: rejection.reason for rejection in report.rejected}
    for line, (_, expected) in enumerate(BAD_JOBS, start=3):
        assert expected in reasons.get(line, ""), (line, reasons.get(line))
    assert report.read == report.imported + report.updated + report.skipped + len(report.rejected)


BAD_CONTENT = [
    ({"kind": "podcast"}, "unknown kind"),
    ({"kind": "event"}, "starts_at is empty"),
    ({"kind": "event", "starts_at": "2026-12-03T18:30"}, "no offset"),
    ({"kind": "event", "starts_at": "2026-12-03T18:30", "timezone": "Mars/Olympus"}, "IANA"),
    ({"kind": "event", "starts_at": "2027-03-28T02:30", "timezone": "Europe/Paris"},
     "does not exist"),
    ({"kind": "event", "starts_at": "2026-12-03"}, "date and time"),
    ({"kind": "event", "starts_at": "0001-01-01T00:00:00Z"}, "before 1900"),
    ({"starts_at": "2026-12-03T18:30:00+01:00"}, "only for events"),
    ({"language": "de"}, "unsupported language"),
    ({"tags": "Data;@SUM(A1)"}, "formula"),
    ({"summary": "line\nbreak"}, "line break"),
    ({"url": "javascript:alert(1)"}, "https"),
    ({"expires_at": "2026-13-01"}, "not an ISO 8601 date"),
]


def test_bad_content_rows_are_rejected_with_their_line(engine: sa.Engine, tmp_path: Path) -> None:
    good = {"kind": "tip", "language": "fr", "title": "Tip", "published_at": "2026-11-01"}
    rows = [{**good, "external_id": f"C-{n}", "url": f"https://b.example.org/{n}", **change}
            for n, (change, _) in enumerate(BAD_CONTENT)]
    feed = tmp_path / "content.jsonl"
    jsonl(feed, {**good, "external_id": "OK", "url": "https://b.example.org/ok"}, *rows)
    with feed.open("a") as handle:
        handle.write('{"external_id": ["nested"]}\n')
    report = import_content(engine, feed, zone=PARIS, now=NOW)
    assert report.imported == 1
    reasons = {rejection.line: rejection.reason for rejection in report.rejected}
    for line, (_, expected) in enumerate(BAD_CONTENT, start=2):
        assert expected in reasons.get(line, ""), (line, reasons.get(line))
    assert "text, a number or null" in reasons[len(BAD_CONTENT) + 2]


def test_the_verbs_exit_0_1_2_and_never_print_a_rejected_rows_values(
    settings: object, tmp_path: Path
) -> None:
    runner = CliRunner()
    good = write(tmp_path / "jobs.csv", "external_id,title,city,languages,url,published_at",
                 "J-1,Dev,Lyon,fr,https://j.example.org/1,2026-11-01")
    result = runner.invoke(app, ["import", "jobs", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 openings imported" in result.output
    result = runner.invoke(app, ["import", "jobs", str(good)])
    assert "1 unchanged (skipped)" in result.output and result.exit_code == 0

    secret = "Marie Curie marie.curie@example.org"
    bad = write(tmp_path / "bad.csv", "external_id,title,city,languages,url,published_at",
                f'J-2,"{secret}\r",Lyon,fr,https://j.example.org/2,2026-11-01',
                f"J-3,Dev,Lyon,fr,https://j.example.org/3,{secret}")
    result = runner.invoke(app, ["import", "jobs", str(bad)])
    assert result.exit_code == 1 and "J-2" in result.output and "J-3" in result.output
    assert "Curie" not in result.output and "example.org" not in result.output

    content = jsonl(tmp_path / "c.jsonl", {"external_id": "C-1", "kind": "news", "language": "en",
                                           "title": "News", "url": "https://b.example.org/n",
                                           "published_at": "2026-11-01"})
    assert runner.invoke(app, ["import", "content", str(content)]).exit_code == 0
    missing = write(tmp_path / "nohead.csv", "external_id,title")
    result = runner.invoke(app, ["import", "content", str(missing)])
    assert result.exit_code == 2 and "lacks required column" in result.output
    assert runner.invoke(app, ["import", "jobs", str(tmp_path / "absent.csv")]).exit_code == 2
