"""Render a candidate's message (subject, HTML, text) from per-cadence, per-language templates.

Layout: `templates/<template>/<language>/{subject.txt,body.html,body.txt}`; bodies extend
`templates/_layout/<language>/layout.{html,txt}`. Templates are compiled once per Renderer
and sandboxed; CSS is inlined into the HTML *source* at compile time
(`inline_css_in_source`), so a render costs no HTML parsing. The caller decides beforehand
whether a candidate's locale is acceptable (data checks quarantine unsupported locales);
the Renderer itself always falls back to `fallback_locale` when a template lacks a language.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import css_inline
import yaml
from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.environment import Environment

from vivier.messages.local_time import date_filters
from vivier.messages.template_env import (
    MessageEnvironment,
    TemplateLoader,
    TemplateProblem,
    word_filters,
)
from vivier.rules.contact import language_of

PARTS = ("subject.txt", "body.html", "body.txt")
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
SAMPLE_CONTEXT = "_sample/context.yaml"
InlineMode = Literal["compile", "render", "off"]
# Errors a template can raise on bad data; anything else is a bug and propagates.
_RENDER_ERRORS = (
    TemplateError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    ArithmeticError,
)


@dataclass(frozen=True)
class RenderedMessage:
    """One candidate's message, ready for a transport."""

    subject: str
    html: str
    text: str
    locale: str
    template: str
    template_version: str


def available_templates(templates_dir: Path) -> set[str]:
    """Message template folders: not `_*`, not `web`; a language folder holds a subject."""
    if not templates_dir.is_dir():
        return set()
    return {
        folder.name
        for folder in templates_dir.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(("_", "."))
        and any((sub / PARTS[0]).is_file() for sub in folder.iterdir() if sub.is_dir())
    }


@dataclass(frozen=True)
class _Compiled:
    subject: Template
    html: Template
    text: Template
    version: str


class Renderer:
    """Compiles each (template, language) once and renders candidates' messages with it."""

    def __init__(
        self,
        templates_dir: Path,
        fallback_locale: str = "en",
        *,
        zone: str = "Europe/Paris",
        inline_css: InlineMode = "compile",
    ) -> None:
        self.templates_dir = Path(templates_dir).resolve()
        self.fallback_locale = language_of(fallback_locale)
        self.inline_css = inline_css
        self._zone = ZoneInfo(zone)
        self._languages = {
            name: frozenset(
                sub.name for sub in (self.templates_dir / name).iterdir() if sub.is_dir()
            )
            for name in available_templates(self.templates_dir)
        }
        self._loader = TemplateLoader(self.templates_dir, inline_at_compile=inline_css == "compile")
        self._environments: dict[str, MessageEnvironment] = {}
        self._compiled: dict[tuple[str, str], _Compiled | TemplateProblem] = {}
        self._resolved: dict[tuple[str, str], tuple[str, str]] = {}  # (template, locale) -> used
        self._lock = threading.Lock()
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    def resolve(self, template: str, locale: str) -> tuple[str, str]:
        """The (template, language) actually used: the locale's language, else the fallback."""
        found = self._resolved.get((template, locale))
        if found is None:
            found = self._resolved[(template, locale)] = self._resolve(template, locale)
        return found

    def _resolve(self, template: str, locale: str) -> tuple[str, str]:
        languages = self._languages.get(template)
        if languages is None:
            known = ", ".join(sorted(self._languages)) or "none"
            raise TemplateProblem(
                f"no such template in {self.templates_dir} (known: {known})", template=template
            )
        language = language_of(locale)
        if language in languages:
            return template, language
        if self.fallback_locale in languages:
            return template, self.fallback_locale
        raise TemplateProblem(
            f"no {language!r} folder and no fallback {self.fallback_locale!r} folder:"
            f" add {template}/{self.fallback_locale}/",
            template=template,
            locale=locale,
        )

    def version(self, template: str, locale: str) -> str:
        """Content hash of every file the render uses (parts and layout), 16 hex digits."""
        return self._get(*self.resolve(template, locale)).version

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Subject, HTML and text of one message; any template error raises TemplateProblem."""
        name, language = self.resolve(template, locale)
        try:
            compiled = self._get(name, language)
            subject, html, text = _render_parts(compiled, context)
        except TemplateProblem as problem:
            raise TemplateProblem(
                problem.problem,
                template=name,
                locale=language,
                candidate_id=_candidate_id(context),
            ) from problem
        except _RENDER_ERRORS as exc:
            raise TemplateProblem(
                f"{type(exc).__name__} in {self._where(exc)}: {exc}"
                " (fix the template, or the data it was given)",
                template=name,
                locale=language,
                candidate_id=_candidate_id(context),
            ) from exc
        if self.inline_css == "render":
            html = self._inliner.inline(html)
        return RenderedMessage(
            subject=" ".join(subject.split()),
            html=html,
            text=_tidy_text(text),
            locale=language,
            template=name,
            template_version=compiled.version,
        )

    def check(self) -> None:
        """Compile and sample-render every template × language; one TemplateProblem lists all."""
        problems: list[str] = []
        try:
            samples = [sample_context(self.templates_dir, empty=empty) for empty in (False, True)]
        except TemplateProblem as problem:
            samples, problems = [], [f"{problem.problem} (templates compiled, not rendered)"]
        for name in sorted(self._languages):
            languages = sorted(self._languages[name])
            if self.fallback_locale not in languages:
                problems.append(f"{name}: no fallback folder {name}/{self.fallback_locale}/")
            for language in languages:
                missing = [
                    p for p in PARTS if not (self.templates_dir / name / language / p).is_file()
                ]
                if missing:
                    problems.append(f"{name}/{language}: missing {', '.join(missing)}")
                    continue
                try:
                    self._get(name, language)
                    for context in samples:
                        self.render(name, language, context)
                except TemplateProblem as problem:
                    problems.append(f"{name}/{language}: {problem.problem}")
        if problems:
            raise TemplateProblem(
                f"{len(problems)} template problem(s) in {self.templates_dir}:\n  "
                + "\n  ".join(problems)
                + "\nFix these files, then run the check again."
            )

    def _where(self, exc: BaseException) -> str:
        """The template file (and line, where the source was not rewritten) that raised."""
        where = "the template"
        traceback = exc.__traceback__
        root = str(self.templates_dir)
        while traceback is not None:
            filename = traceback.tb_frame.f_code.co_filename
            if filename.startswith(root):
                where = filename[len(root) + 1 :]
                if not (self.inline_css == "compile" and filename.endswith(".html")):
                    where += f", line {traceback.tb_lineno}"
            traceback = traceback.tb_next
        return where

    def _environment(self, language: str) -> MessageEnvironment:
        if language not in self._environments:
            environment = MessageEnvironment(
                loader=self._loader,
                undefined=StrictUndefined,
                autoescape=lambda name: bool(name and name.endswith(".html")),
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                auto_reload=False,
                cache_size=-1,
            )
            environment.filters.update(date_filters(language, self._zone))
            environment.filters.update(word_filters(language))
            self._environments[language] = environment
        return self._environments[language]

    def _get(self, name: str, language: str) -> _Compiled:
        """The compiled parts (compiled on first use; a failure is remembered, not retried)."""
        key = (name, language)
        found = self._compiled.get(key)
        if found is None:
            with self._lock:
                found = self._compiled.get(key) or self._compile(name, language)
                self._compiled[key] = found
        if isinstance(found, TemplateProblem):
            raise found
        return found

    def _compile(self, name: str, language: str) -> _Compiled | TemplateProblem:
        environment = self._environment(language)
        files: set[str] = set()
        try:
            parts = []
            for part in PARTS:
                path = f"{name}/{language}/{part}"
                files |= self._files_used(environment, path)
                parts.append(environment.get_template(path))
                for used in files - {path}:
                    environment.get_template(used)  # compile layouts now: errors surface in check()
        except TemplateError as exc:
            where = f"{getattr(exc, 'name', None) or ''}:{getattr(exc, 'lineno', '')}".strip(":")
            return TemplateProblem(
                f"{where}: {getattr(exc, 'message', None) or exc}", template=name, locale=language
            )
        except TemplateProblem as problem:
            return problem
        digest = hashlib.sha256()
        for used in sorted(files):
            digest.update(used.encode() + b"\0" + (self.templates_dir / used).read_bytes() + b"\0")
        subject, html, text = parts
        return _Compiled(subject, html, text, version=digest.hexdigest()[:16])

    def _files_used(self, environment: Environment, name: str) -> set[str]:
        """This file and every file it extends, includes or imports (names must be literal)."""
        used = {name}
        for parent in meta.find_referenced_templates(
            environment.parse(self._loader.raw_source(environment, name), name)
        ):
            if parent is None:
                raise TemplateProblem(f"{name}: extends/include must name a file literally")
            used |= self._files_used(environment, parent)
        return used


def _render_parts(compiled: _Compiled, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject, HTML and text, as `Template.render` renders each, with one copy of the context.

    `Template.render` merges the template's globals and the context into a new dict per part;
    the three parts share one (a template context never writes to its parent mapping).
    """
    parts = (compiled.subject, compiled.html, compiled.text)
    parent = {**compiled.subject.globals, **context}
    rendered = []
    for part in parts:
        environment = part.environment
        try:
            rendered.append(environment.concat(  # type: ignore[attr-defined]
                part.root_render_func(part.new_context(parent, shared=True))))
        except Exception:
            environment.handle_exception()  # as Template.render: the traceback names the template
    return rendered[0], rendered[1], rendered[2]


def _candidate_id(context: Mapping[str, Any]) -> int | None:
    candidate = context.get("candidate")
    return candidate.get("id") if isinstance(candidate, Mapping) else None


_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)


def _tidy_text(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row."""
    if "\r" in text:  # str tests are ~10x cheaper than a replace or the regex
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("", text)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    if len(text) > 1 and text[-1] == "\n" and not text[-2].isspace() and not text[0].isspace():
        return text  # already what strip() + "\n" would make: no copy
    return text.strip() + "\n"


def sample_context(templates_dir: Path = TEMPLATES_DIR, *, empty: bool = False) -> dict[str, Any]:
    """The sample render context of `_sample/context.yaml` (the documented contract).

    With `empty`, every list is emptied and the optional candidate fields are None: the
    quiet week every template must also handle gracefully.
    """
    path = templates_dir / SAMPLE_CONTEXT
    try:
        context: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateProblem(f"cannot read the sample context {path}: {exc}") from exc
    if empty:
        context["openings"] = []
        context["content"] = {kind: [] for kind in context["content"]}
        context["candidate"].update(city=None, expertise=None, search_location=None)
    return context
