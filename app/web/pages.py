"""The preference pages: Jinja2 templates in `templates/web/`, their words in `text/<lang>.yaml`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from vivier.rules.contact import SUPPORTED_LANGUAGES, language_of

LANGUAGES = SUPPORTED_LANGUAGES
FALLBACK_LANGUAGE = "en"


class Pages:
    """Renders a page in one language; every page gets `t` (its words), `lang` and `team`."""

    def __init__(self, templates_dir: Path, team: Callable[[str], str]) -> None:
        folder = Path(templates_dir) / "web"
        self.environment = Environment(
            loader=FileSystemLoader(str(folder)), autoescape=True, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, auto_reload=False,
        )
        self.words = {language: _words(folder / "text" / f"{language}.yaml") for language in LANGUAGES}
        self.stylesheet = (folder / "vivier.css").read_bytes()
        self.team = team  # the team's name in a language (the From name of our messages)

    def language(self, locale: str | None = None, accept_language: str | None = None) -> str:
        """The candidate's language if we have it, else the browser's first one we have."""
        if language_of(locale) in LANGUAGES:
            return language_of(locale)
        for wanted in _by_preference(accept_language or ""):
            if wanted in LANGUAGES:
                return wanted
        return FALLBACK_LANGUAGE

    def render(self, page: str, language: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        template = self.environment.get_template(page)
        html = template.render(t=self.words[language], lang=language, team=self.team(language),
                                   **context)
        return HTMLResponse(html, status_code=status_code)


def _words(path: Path) -> dict[str, str]:
    try:
        words = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuntimeError(f"cannot read the page words {path}: {exc}") from exc
    if not isinstance(words, dict):
        raise RuntimeError(f"{path}: expected a mapping of keys to sentences")
    return {str(key): str(value) for key, value in words.items()}


def _by_preference(header: str) -> list[str]:
    """Languages of an Accept-Language header, most wanted first (`fr-CA;q=0.8` -> `fr`)."""
    ranked = []
    for position, item in enumerate(header.split(",")):
        name, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if name and weight > 0:
            ranked.append((-weight, position, language_of(name)))
    return [language for _, _, language in sorted(ranked)]
