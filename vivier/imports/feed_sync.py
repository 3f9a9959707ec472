"""A feed read from where the team publishes it (a path, or an http(s) URL) and upserted.

The same formats as `vivier import jobs|content`: a location ending in `.jsonl`/`.ndjson`
(or served as `application/x-ndjson`, `application/jsonl`) is JSON Lines, anything else CSV.
A URL is fetched once into a private temporary file (at most MAX_FEED_BYTES) and imported
from there. Where a location is shown (logs, reports, errors) its query and credentials are
left out: a feed URL may carry an access token.
"""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine

from vivier.imports.content import import_content
from vivier.imports.jobs import import_jobs
from vivier.imports.report import ImportFileError, ImportReport
from vivier.imports.rows import JSONL_SUFFIXES

MAX_FEED_BYTES = 200 * 1024 * 1024
TIMEOUT_SECONDS = 60
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines",
               "application/json-lines")
IMPORTERS: dict[str, Callable[..., ImportReport]] = {"jobs": import_jobs, "content": import_content}


class FeedUnreachable(ImportFileError):
    """The feed's server could not be reached or answered an error: worth trying again later."""


def shown_location(location: str) -> str:
    """The location without query, fragment or credentials (a token must not reach a log)."""
    if not _is_url(location):
        return location
    parts = urlsplit(location)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def sync_feed(engine: Engine, kind: str, location: str, zone: tzinfo,
              now: datetime | None = None) -> ImportReport:
    """Import the `kind` feed ('jobs' or 'content') found at `location`; its report."""
    if kind not in IMPORTERS:
        raise ValueError(f"unknown feed {kind!r}: use {', '.join(IMPORTERS)}")
    importer = IMPORTERS[kind]
    if not _is_url(location):
        return importer(engine, Path(location), zone=zone, now=now)
    with tempfile.TemporaryDirectory(prefix="vivier-feed-") as folder:
        path = _download(location, Path(folder), kind)
        report = importer(engine, path, zone=zone, now=now)
    report.file = shown_location(location)
    return report


def _is_url(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


def _download(url: str, folder: Path, kind: str) -> Path:
    """The feed's body in `folder`, named with the suffix that says its format."""
    shown = shown_location(url)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - http(s) only, checked above
            suffix = _suffix(urlsplit(url).path, answer.headers.get_content_type())
            path = folder / f"{kind}{suffix}"
            size = 0
            with path.open("wb") as handle:
                while block := answer.read(1 << 16):
                    size += len(block)
                    if size > MAX_FEED_BYTES:
                        raise ImportFileError(f"the feed {shown} is larger than "
                                              f"{MAX_FEED_BYTES // 2**20} MB: split it. "
                                              "Nothing was imported.")
                    handle.write(block)
    except urllib.error.HTTPError as exc:
        # A server error or "slow down" may pass; a 404 or 403 stays until someone fixes it.
        error = FeedUnreachable if exc.code >= 500 or exc.code in (408, 429) else ImportFileError
        raise error(f"the feed {shown} answered HTTP {exc.code}: check the URL "
                    "(VIVIER_JOBS_FEED / VIVIER_CONTENT_FEED) and that the file is "
                    "published. Nothing was imported.") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise FeedUnreachable(f"cannot read the feed {shown} ({reason}): is the server up? "
                              "Nothing was imported.") from None
    return path


def _suffix(path: str, content_type: str) -> str:
    lowered = path.lower()
    if lowered.endswith(JSONL_SUFFIXES) or content_type in JSONL_TYPES:
        return ".jsonl"
    return ".csv"
