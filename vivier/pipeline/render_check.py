"""Planning's render check: a sample of each (template, language) of a batch, not everyone.

Delivery renders every message once, just before it leaves; planning only has to know that
the templates work. So planning renders the first `SAMPLE_PER_TEMPLATE` candidates of each
(template, language) of a batch: a template that fails for all of them is broken, and every
candidate it would serve is a `render_error` here, before anything leaves (when nobody is left,
the gate stops the run). A failure of one candidate's own data shows in delivery: that send
fails and the candidate is quarantined with the same `render_error` decision.

A dry run (and a preview) renders everyone: that is what it is for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vivier.messages.rendering import RenderedMessage, Renderer, TemplateProblem

SAMPLE_PER_TEMPLATE = 5  # renders per (template, language) and batch; the rest render at delivery


@dataclass(frozen=True)
class Checked:
    """A candidate's message passed the check: its template version, and the message if rendered."""

    template_version: str
    rendered: RenderedMessage | None


@dataclass
class RenderCheck:
    """Checks one batch's messages; `everyone` renders them all (dry runs, previews)."""

    renderer: Renderer
    everyone: bool = False
    sample: int = SAMPLE_PER_TEMPLATE
    _tried: dict[tuple[str, str], int] = field(default_factory=dict)
    _worked: set[tuple[str, str]] = field(default_factory=set)
    _last_problem: dict[tuple[str, str], TemplateProblem] = field(default_factory=dict)

    def renders(self, template: str, locale: str) -> bool:
        """`check` renders this message (it is in the sample): its render context is needed."""
        key = self.renderer.resolve(template, locale)  # an unknown template raises here
        return self.everyone or self._tried.get(key, 0) < self.sample

    def check(self, template: str, locale: str, context: Mapping[str, Any] | None,
              candidate_id: int | None = None) -> Checked:
        """Render this candidate's message if it is in the sample; raises TemplateProblem when it
        fails, or when every sampled message of its template and language failed.

        `context` may be None when `renders` said no (planning builds it only for the sample).
        """
        key = self.renderer.resolve(template, locale)  # an unknown template raises here
        tried = self._tried.get(key, 0)
        if self.everyone or tried < self.sample:
            if context is None:
                raise ValueError(f"{template}/{locale}: this message is rendered: give its context")
            self._tried[key] = tried + 1
            try:
                rendered = self.renderer.render(template, locale, context)
            except TemplateProblem as problem:
                self._last_problem[key] = problem
                raise
            self._worked.add(key)
            return Checked(rendered.template_version, rendered)
        if key not in self._worked:
            failed = self._last_problem[key]
            raise TemplateProblem(
                f"not rendered: the first {tried} messages of this template in the batch all "
                f"failed ({failed.problem})", template=key[0], locale=key[1],
                candidate_id=candidate_id if candidate_id is not None else _candidate_id(context or {}))
        return Checked(self.renderer.version(template, locale), None)


def _candidate_id(context: Mapping[str, Any]) -> int | None:
    candidate = context.get("candidate")
    return candidate.get("id") if isinstance(candidate, Mapping) else None
