"""The sync-feeds flow reads the feeds from a path or an http(s) URL, idempotently."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from vivier.pipeline.resources import Resources, using
from vivier.settings import load_settings
from vivier.store.schema import Content, Job, utcnow

pytestmark = pytest.mark.usefixtures("prefect_harness")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """No access log on the test's output."""

    def guess_type(self, path: str | Path) -> str:
        return "application/x-ndjson" if str(path).endswith(".ndjson") else super().guess_type(path)


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    """A jobs feed (CSV) and a content feed (JSON Lines) published today."""
    folder = tmp_path / "published"
    folder.mkdir()
    day = (utcnow() - timedelta(days=2)).date().isoformat()
    (folder / "jobs.csv").write_text(
        "external_id,title,city,languages,expertise,url,published_at\n"
        f"J-1,Data engineer,Lyon,fr,Data,https://jobs.example.org/1,{day}\n"
        f"J-2,Analyst,Paris,fr;en,Data,https://jobs.example.org/2,{day}\n"
        f"J-3,Broken,Paris,fr,Data,ftp://jobs.example.org/3,{day}\n", encoding="utf-8")
    (folder / "content.ndjson").write_text(
        '{"external_id": "C-1", "kind": "tip", "language": "fr", "title": "Conseil", '
        f'"url": "https://blog.example.org/1", "published_at": "{day}"}}\n', encoding="utf-8")
    return folder


@pytest.fixture
def server(feeds: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the published feeds, for this test only."""
    handler = functools.partial(_Quiet, directory=str(feeds))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def counts(result: dict, feed: str) -> tuple[int, int, int, int]:
    return tuple(result[feed][key] for key in ("imported", "updated", "unchanged", "rejected"))


def stored(engine: sa.Engine) -> tuple[list[str], list[str]]:
    with engine.connect() as conn:
        return (sorted(conn.scalars(sa.select(Job.external_id))),
                sorted(conn.scalars(sa.select(Content.external_id))))


def test_sync_reads_both_feeds_over_http_and_a_second_run_changes_nothing(
    engine: sa.Engine, db_url: str, tmp_path: Path, server: str
) -> None:
    from flows.sync_feeds import sync_feeds

    own = load_settings(database_url=db_url, transport="none", maildir_path=tmp_path / "outbox",
                        secret_key="test-secret-key-of-at-least-32-bytes",
                        jobs_feed=f"{server}/jobs.csv?token=s3cr3t",
                        content_feed=f"{server}/content.ndjson")
    with using(Resources.build(own)):
        first = sync_feeds()
        second = sync_feeds()
    assert counts(first, "jobs") == (2, 0, 0, 1) and counts(first, "content") == (1, 0, 0, 0)
    assert counts(second, "jobs") == (0, 0, 2, 1) and counts(second, "content") == (0, 0, 1, 0)
    assert first["jobs"]["rejections"][0]["line"] == 4
    assert "https" in first["jobs"]["rejections"][0]["reason"]
    assert first["jobs"]["location"] == f"{server}/jobs.csv"  # the token is never shown
    assert stored(engine) == (["J-1", "J-2"], ["C-1"])


def test_sync_reads_a_path_and_takes_changes(
    engine: sa.Engine, resources: Resources, feeds: Path
) -> None:
    from flows.sync_feeds import sync_feeds

    result = sync_feeds(jobs=str(feeds / "jobs.csv"), content=str(feeds / "content.ndjson"))
    assert counts(result, "jobs") == (2, 0, 0, 1)
    text = (feeds / "jobs.csv").read_text().replace("Data engineer", "Lead data engineer")
    (feeds / "jobs.csv").write_text(text)
    result = sync_feeds(jobs=str(feeds / "jobs.csv"))
    assert counts(result, "jobs") == (0, 1, 1, 1) and "content" not in result
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Job.title).where(Job.external_id == "J-1")) == \
            "Lead data engineer"


def test_an_unreachable_feed_fails_the_run_but_the_other_feed_is_still_read(
    engine: sa.Engine, resources: Resources, feeds: Path, server: str
) -> None:
    from prefect import State

    from flows.sync_feeds import sync_feeds

    state: State = sync_feeds(jobs=f"{server}/missing.csv?token=s3cr3t",
                              content=str(feeds / "content.ndjson"), return_state=True)
    assert state.is_failed() and "jobs" in str(state.message or "") + repr(state.data)
    assert stored(engine) == ([], ["C-1"])
