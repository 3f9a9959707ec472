"""`vivier templates check`: every template × language rendered per cadence, and what mailers dislike.

Rendered with `_sample/context.yaml` once per cadence (its period set to that cadence's), full
and emptied (every list empty, optional fields null). Reported per template and language:
a missing language folder or file, an empty text part, an undefined variable or any other
render error, a link that is not https:// (mailto: is fine; the context's own `links`, built
from VIVIER_PUBLIC_BASE_URL, are exempt: http://localhost works on a laptop and the settings
check that base URL), a remote image, a subject empty or over 78 characters, and offline
spam-filter pitfalls: an all-caps subject, `!!!`, an HTML part that is images with hardly
any text. Pure: reads the folder, writes nothing.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from vivier.messages.rendering import (
    PARTS,
    RenderedMessage,
    Renderer,
    available_templates,
    sample_context,
)
from vivier.messages.template_env import TemplateProblem

SUBJECT_MAX = 78  # RFC 5322's line length: longer subjects fold and get cut in inboxes
IMAGE_ONLY_WORDS = 50  # an HTML part with images and fewer words reads as image-only spam
CADENCE_PERIODS = {  # the sample period each cadence's render gets
    "weekly": ("2026-W48", date(2026, 11, 23)),
    "monthly": ("2026-11", date(2026, 11, 1)),
    "quarterly": ("2026-Q4", date(2026, 10, 1)),
}
_HREF = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
_TEXT_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
_IMG_SRC = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']([^"']*)["']""", re.I)
_HIDDEN = re.compile(r"<(head|style|script)\b.*?</\1>|<div class=\"preheader\".*?</div>", re.S | re.I)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem of one template in one language."""

    template: str
    locale: str
    problem: str

    def __str__(self) -> str:
        return f"{self.template}/{self.locale}: {self.problem}"


@dataclass
class CheckResult:
    """What the check looked at, and what it found (sorted, each problem once)."""

    templates: list[str]
    languages: list[str]
    renders: int
    findings: list[Finding]


def sample_contexts(templates_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """The sample context per cadence, full and emptied, labelled `weekly`, `weekly, empty`…"""
    contexts = []
    for empty in (False, True):
        base = sample_context(templates_dir, empty=empty)
        for cadence, (key, start) in CADENCE_PERIODS.items():
            context = copy.deepcopy(base)
            context["period"] = {"cadence": cadence, "key": key, "start": start}
            contexts.append((cadence + (", empty" if empty else ""), context))
    return contexts


def check_templates(templates_dir: Path) -> CheckResult:
    """Render every template × language per cadence and list every problem found."""
    templates_dir = Path(templates_dir)
    names = sorted(available_templates(templates_dir))
    folders = {name: {sub.name for sub in (templates_dir / name).iterdir() if sub.is_dir()}
               for name in names}
    languages = sorted(set().union(*folders.values())) if folders else []
    findings: set[Finding] = set()
    try:
        contexts = sample_contexts(templates_dir)
    except (TemplateProblem, KeyError, TypeError, AttributeError) as problem:
        sample = templates_dir / "_sample/context.yaml"
        findings.add(Finding("_sample", "-", f"cannot use {sample}: {problem}"))
        contexts = []
    renderer = Renderer(templates_dir)
    renders = 0
    for name in names:
        for language in languages:
            if language not in folders[name]:
                findings.add(Finding(name, language, f"missing locale: add {name}/{language}/"))
                continue
            missing = [p for p in PARTS if not (templates_dir / name / language / p).is_file()]
            if missing:
                findings.add(Finding(name, language, "missing " + ", ".join(missing)))
                continue
            for label, context in contexts:
                renders += 1
                try:
                    message = renderer.render(name, language, context)
                except TemplateProblem as problem:
                    findings.add(Finding(name, language, f"{problem.problem} ({label})"))
                    continue
                found = message_problems(message, context)
                findings.update(Finding(name, language, problem) for problem in found)
    return CheckResult(names, languages, renders, sorted(findings))


def message_problems(message: RenderedMessage, context: dict[str, Any]) -> list[str]:
    """What is wrong with one rendered message: subject, text part, links, spam pitfalls."""
    problems = []
    subject = message.subject
    if not subject:
        problems.append("empty subject")
    elif len(subject) > SUBJECT_MAX:
        problems.append(f"subject over {SUBJECT_MAX} characters ({len(subject)}): {subject[:40]}…")
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        problems.append(f"all-caps subject (spam filters): {subject}")
    if "!!!" in subject or "!!!" in message.text or "!!!" in message.html:
        problems.append("'!!!' in the message (spam filters)")
    if not message.text.strip():
        problems.append("empty text part: body.txt renders nothing")
    own_links = set(context.get("links", {}).values()) if isinstance(context.get("links"), dict) else set()
    for url in _HREF.findall(message.html) + [u.rstrip(".,;:)>") for u in _TEXT_URL.findall(message.text)]:
        if url in own_links or url.lower().startswith(("https://", "mailto:")):
            continue
        problems.append(f"link without https:// : {url[:80]}")
    images = _IMG_SRC.findall(message.html)
    for src in images:
        if "://" in src:
            problems.append(f"remote image (blocked by mail clients, flagged by filters): {src[:80]}")
    words = re.sub(r"<[^>]+>", " ", _HIDDEN.sub(" ", message.html)).split()
    if images and len(words) < IMAGE_ONLY_WORDS:
        problems.append(f"image-only HTML: {len(images)} image(s), {len(words)} words of text")
    return problems
