"""Pages for the team that hold personal data (a preview, a candidate's timeline): one
self-contained HTML file each (inline CSS, nothing fetched), saying who it is for, written 0600."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vivier.gdpr.why import Explanation
from vivier.pipeline.preview import PLANNED, Preview, SegmentPreview
from vivier.report.html import page_environment
from vivier.store.files import replace_page
from vivier.store.schema import utcnow

PREVIEW_TITLE = "vivier — preview".encode()
TIMELINE_TITLE = "vivier — timeline".encode()


def _page(templates_dir: Path, name: str, **context: Any) -> bytes:
    environment = page_environment(templates_dir)
    generated = f"{utcnow():%Y-%m-%d %H:%M}"
    return environment.get_template(name).render(generated=generated, **context).encode("utf-8")


def render_preview(preview: Preview, templates_dir: Path) -> bytes:
    """The preview page, from `templates/preview/preview.html` (autoescaped)."""
    sections = sorted(preview.segments.values(), key=lambda section: section.name)
    return _page(templates_dir, "preview/preview.html", preview=preview, sections=sections,
                 counts_rows=decision_rows(sections), zone=str(preview.instant.tzinfo),
                 instant=f"{preview.instant:%A %Y-%m-%d %H:%M}")


def decision_rows(sections: list[SegmentPreview]) -> list[tuple[str, list[int]]]:
    """Per decision (planned first), its count in each segment and in all; then the totals."""
    reasons = sorted({name for section in sections for name in section.counts} - {PLANNED})
    rows = []
    for name in (PLANNED, *reasons):
        counts = [section.counts[name] for section in sections]
        rows.append((name, [*counts, sum(counts)]))
    totals = [sum(section.counts.values()) for section in sections]
    return [*rows, ("total", [*totals, sum(totals)])]


def write_preview(preview: Preview, path: Path, templates_dir: Path) -> Path:
    """Write the preview page (0600); an earlier preview page may be replaced, nothing else."""
    return replace_page(Path(path), render_preview(preview, templates_dir), PREVIEW_TITLE,
                        "preview page", private=True)


def render_timeline(story: Explanation, templates_dir: Path) -> bytes:
    """A candidate's page, from `templates/timeline/timeline.html`: now, per period, the timeline."""
    return _page(templates_dir, "timeline/timeline.html", story=story)


def write_timeline(story: Explanation, path: Path, templates_dir: Path) -> Path:
    """Write a candidate's page (0600); an earlier timeline page may be replaced, nothing else."""
    return replace_page(Path(path), render_timeline(story, templates_dir), TIMELINE_TITLE,
                        "timeline page", private=True)
