"""The layers hold: arrows only go down (app → flows → tasks → vivier), and the rules are pure.

Read from the source (every `import`, also inside functions), so a lazy import cannot hide.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORCHESTRATION_AND_ENTRY_POINTS = ("prefect", "prefect_dask", "typer", "fastapi", "starlette", "uvicorn")
ABOVE_THE_CORE = ("app", "flows", "tasks", "demo", "testing", "tests", "bench")
# What "I/O" means for a rule: a database, the network, mail, the clock of a server, files written.
IO = ("sqlalchemy", "psycopg", "smtplib", "socket", "http", "urllib", "requests", "httpx",
      "subprocess", "shutil", "mailbox", "vivier.store", "vivier.transports", "vivier.pipeline",
      "vivier.imports", "vivier.gdpr", "vivier.report", "vivier.ledger.moves", "vivier.ledger.status",
      "data_checks", "great_expectations", "pandas")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_the_core_never_imports_prefect_typer_fastapi_or_anything_above_it() -> None:
    assert offenders("vivier", ORCHESTRATION_AND_ENTRY_POINTS + ABOVE_THE_CORE) == []


@pytest.mark.parametrize("folder,above", [
    ("tasks", ("flows", "app", "demo", "testing", "tests")),
    ("flows", ("app", "testing", "tests")),
    ("data_checks", ("vivier.pipeline", "vivier.store", "flows", "tasks", "app", "prefect")),
])
def test_each_layer_imports_only_below_it(folder: str, above: tuple[str, ...]) -> None:
    assert offenders(folder, above) == []


def test_the_rules_are_pure() -> None:
    assert offenders("vivier/rules", IO) == []


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from prefect import flow\n    import sqlalchemy as sa\n")
    assert imported_modules(module) == {"prefect", "sqlalchemy"}
