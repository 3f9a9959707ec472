"""The message templates' Jinja environment: sandbox, loader with CSS inlined at compile, word filters.

Kept apart from `rendering` (which compiles and renders) because it is the part that knows
about Jinja and css_inline; the Renderer only composes them (date filters: `local_time`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from pathlib import Path
from types import CodeType
from typing import Any

import css_inline
import markupsafe
from jinja2 import FileSystemLoader, Template, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Environment
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from vivier.rules import places, vocabulary

# markupsafe's own escaping of a str (C), without the Markup it wraps it in; else the public one
_escape_text: Callable[[str], str] = (getattr(markupsafe, "_escape_inner", None)
                                      or (lambda text: str(escape(text))))


class TemplateProblem(Exception):
    """A template that cannot be compiled or rendered, described for the person who fixes it."""

    def __init__(
        self,
        problem: str,
        *,
        template: str | None = None,
        locale: str | None = None,
        candidate_id: int | None = None,
    ) -> None:
        self.problem = problem
        self.template, self.locale, self.candidate_id = template, locale, candidate_id
        where = ", ".join(
            part
            for part in (
                f"template {template!r}" if template else "",
                f"locale {locale!r}" if locale else "",
                f"candidate {candidate_id}" if candidate_id is not None else "",
            )
            if part
        )
        super().__init__(f"{where}: {problem}" if where else problem)


WORK_MODES = {"fr": {"onsite": "sur site", "hybrid": "hybride", "remote": "télétravail"},
              "en": {"onsite": "on site", "hybrid": "hybrid", "remote": "remote"}}


def word_filters(language: str) -> dict[str, Callable[..., str]]:
    """The vocabulary in the render's language: labels and phrases of places, fields, work modes.

        {{ candidate.search_location|place_in }}  -> "au Canada" / "in Canada" / "en télétravail"
        {{ opening.location|place }}              -> "Royaume-Uni" / "United Kingdom"
        {{ candidate.expertise|field_in }}        -> "en paie" / "in payroll"
        {{ candidate.expertise|field }}           -> "Paie" / "Payroll"
        {{ opening.remote|work_mode }}            -> "hybride" / "hybrid"
    """
    modes = WORK_MODES.get(language, WORK_MODES["en"])
    return {
        "place": _memoised(lambda value: places.label(value, language)),
        "place_in": _memoised(lambda value: places.phrase(value, language)),
        "field": _memoised(lambda value: vocabulary.field_label(value, language)),
        "field_in": _memoised(lambda value: vocabulary.field_phrase(value, language)),
        "work_mode": lambda value: modes.get(value or "", value or ""),
    }


_MEMO_LIMIT = 4096  # words per filter and language: a pool's places and fields are a few hundred


def _memoised(words: Callable[[Any], str]) -> Callable[[Any], str]:
    """`words`, remembered per text value: a run writes the same few places and fields each
    message. Anything else (None, an undefined value: its error) goes to `words` itself."""
    memo: dict[str, str] = {}

    def filtered(value: Any) -> str:
        if type(value) is not str:
            return words(value)
        found = memo.get(value)
        if found is None:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            found = memo[value] = words(value)
        return found

    return filtered


class MessageTemplate(Template):
    """A compiled message template whose `{{ }}` outputs escape text without a Markup per value."""

    @classmethod
    def from_code(cls, environment: Environment, code: CodeType,
                  globals: MutableMapping[str, Any], uptodate: Callable[[], bool] | None = None,
                  ) -> Template:
        template = super().from_code(environment, code, globals, uptodate)
        # Autoescaped code calls `escape` on each value it outputs; markupsafe's wraps the text
        # in a Markup that is only joined into the page (a quarter of an HTML part's render).
        template.root_render_func.__globals__["escape"] = escape_output
        return template


def escape_output(value: Any) -> str:
    """markupsafe's `escape` for a value a template outputs: the same text, a Markup only when
    the value is not a plain str (what is joined into the page is the same)."""
    if type(value) is str:
        return _escape_text(value)
    return escape(value)


class MessageCodeGenerator(CodeGenerator):
    """Compiles `a.b` to read a dict's key in place, as `MessageEnvironment.getattr` first does."""

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async:
            return super().visit_Getattr(node, frame)
        # A message reads ~40 attributes of its context's dicts: one call each was ~10% of a
        # render. Anything but a dict holding the key still goes through the sandbox's getattr.
        self.write(f"(_vivier_obj[{node.attr!r}] if (type(_vivier_obj := ")
        self.visit(node.node, frame)
        self.write(f") is dict and {node.attr!r} in _vivier_obj)"
                   f" else environment.getattr(_vivier_obj, {node.attr!r}))")


class MessageEnvironment(SandboxedEnvironment):
    """The sandbox, reading dict keys first: `opening.title` on a dict is data, not an attribute."""

    template_class = MessageTemplate
    code_generator_class = MessageCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._loaded: dict[tuple[str, str | None], Template] = {}

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Halves render time: the stock path raises AttributeError on every dict before item lookup.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def get_template(self, name: str | Template, parent: str | None = None,
                     globals: MutableMapping[str, Any] | None = None) -> Template:
        # A body extends its layout and includes its partials on every render: look the loaded
        # template up by name first (templates are compiled once and never reloaded).
        if globals is None and type(name) is str and not self.auto_reload:
            found = self._loaded.get((name, parent))
            if found is None:
                found = self._loaded[(name, parent)] = super().get_template(name, parent)
            return found
        return super().get_template(name, parent, globals)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # A plain dict, not Jinja's ChainMap: every render copies a template's globals into its
        # context, and copying a ChainMap costs ~8 µs a render. Nothing changes globals after
        # the Renderer builds the environment, so a snapshot is the same mapping.
        return {**self.globals, **(d or {})}


PARTIALS = "_partials/"  # blocks written once and included by message bodies (the opening card)


class TemplateLoader(FileSystemLoader):
    """Reads templates; HTML files get their CSS inlined into the source when asked."""

    def __init__(self, templates_dir: Path, inline_at_compile: bool) -> None:
        super().__init__(str(templates_dir))
        self.inline_at_compile = inline_at_compile

    def raw_source(self, environment: Environment, name: str) -> str:
        return super().get_source(environment, name)[0]

    def get_source(
        self, environment: Environment, name: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, name)
        if self.inline_at_compile and name.endswith(".html"):
            css = self._parent_css(environment, name, source)
            if name.startswith(PARTIALS):  # included, not extending: styled like the layouts
                css += "\n" + self._layout_css()
            source = inline_css_in_source(source, css, name)
        return source, filename, uptodate

    def _layout_css(self) -> str:
        """The `<style>` rules of every language's message layout (`_layout/*/layout.html`)."""
        rules = []
        for path in sorted(Path(self.searchpath[0]).glob("_layout/*/layout.html")):
            rules += re.findall(r"<style[^>]*>(.*?)</style>", path.read_text(encoding="utf-8"), re.S | re.I)
        return "\n".join(rules)

    def _parent_css(self, environment: Environment, name: str, source: str) -> str:
        """The `<style>` rules of the templates this one extends or includes."""
        rules = []
        for parent in meta.find_referenced_templates(environment.parse(source, name)):
            if parent:
                parent_source = self.raw_source(environment, parent)
                rules += re.findall(r"<style[^>]*>(.*?)</style>", parent_source, re.S | re.I)
                rules.append(self._parent_css(environment, parent, parent_source))
        return "\n".join(rules)


_JINJA_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_PLACEHOLDER = re.compile(r"vivierjinja(\d+)x")


def inline_css_in_source(source: str, parent_css: str, name: str) -> str:
    """Inline CSS into a template's HTML source, with its Jinja syntax kept intact.

    Jinja tags are swapped for inert placeholders while css_inline parses the HTML, then put
    back. A whole document is inlined with its own `<style>`; a body (fragment) with the
    `<style>` of the layout it extends. @media rules stay in the layout's `<style>` block.
    """
    tags: list[str] = []

    def hide(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"vivierjinja{len(tags) - 1}x"

    hidden = _JINJA_SYNTAX.sub(hide, source)
    options: dict[str, Any] = {"keep_at_rules": True, "load_remote_stylesheets": False}
    if re.search(r"<html[\s>]", hidden, re.I):
        inlined = css_inline.inline(hidden, **options)
    else:
        inlined = css_inline.inline_fragment(hidden, parent_css, **options)
    found = [int(number) for number in _PLACEHOLDER.findall(inlined)]
    if found != list(range(len(tags))) or re.search(r"vivierjinja\d+x=", inlined):
        raise TemplateProblem(
            f"CSS inlining moved Jinja tags in {name}: keep Jinja tags inside element text or"
            " attribute values (not inside a tag's attribute list, between table rows or in"
            " <head>), or build the Renderer with inline_css='render'"
        )
    return _PLACEHOLDER.sub(lambda match: tags[int(match.group(1))], inlined)
