"""`vivier segments check`: how segments.yaml cuts the pool, before a run does it by surprise."""

from __future__ import annotations

import json
import sys

import typer
from rich.markup import escape
from rich.table import Table

from app.commands.common import console, engine, err_console, load
from vivier.messages.rendering import available_templates
from vivier.pipeline import extract
from vivier.rules.segments import DEFAULT_SEGMENT, SegmentProblem, load_segments

app = typer.Typer(help="Check segments.yaml against the candidates in the database.",
                  no_args_is_help=True)


@app.command()
def check(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Per segment: the candidates it takes, and those an earlier segment shadows.

    A candidate belongs to the first segment whose filter matches; "shadowed" counts those a
    segment's filter matches but an earlier segment took. Exits 1 when a segment takes nobody
    (its filter matches no candidate, or earlier segments take all it matches) or names a
    value no candidate has (an expertise, city, place, tag or status nobody holds: a typo);
    exits 2 when segments.yaml is invalid (unknown field or status, missing template).
    Erased candidates do not count; nothing is written.

    Examples:

      vivier segments check

      vivier segments check --json | jq '.segments[] | {name, taken, shadowed}'
    """
    settings = load()
    try:
        segments = load_segments(settings.segments_file)
        segments.check_templates(available_templates(settings.templates_dir))
    except SegmentProblem as problem:
        err_console.print(f"[red]{escape(str(problem))}[/red]")
        raise typer.Exit(2) from None
    with engine(settings).connect() as conn:
        coverage = segments.coverage(extract.segment_fields(conn))
    problems = coverage.problems()
    if as_json:
        sys.stdout.write(json.dumps(coverage.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        table = Table("segment", "takes", "matches", "shadowed", "shadowed by",
                      title=f"segments.yaml over {coverage.candidates:,} candidates (first match wins)")
        for count in coverage.segments:
            by = ", ".join(f"{name} {n:,}" for name, n in count.shadowed_by.most_common())
            is_default = count.name == DEFAULT_SEGMENT
            table.add_row(count.name, f"{count.taken:,}", "—" if is_default else f"{count.matched:,}",
                          "—" if is_default else f"{count.shadowed:,}", escape(by))
        console.print(table)
        for found in problems:
            err_console.print(f"[red]{escape(found)}[/red]")
        if not problems:
            console.print("[green]every segment takes someone and every value matches a candidate[/green]")
    if problems:
        raise typer.Exit(1)
