"""From a link in a message to a candidate id: signed, purpose-bound, not too old."""

from __future__ import annotations

from starlette.requests import Request

from vivier.messages.tokens import TokenProblem, read_token, token_id
from vivier.preferences import Evidence
from vivier.settings import Settings

MAX_TOKEN_CHARS = 512  # ours are ~40: anything far longer is not one of our links


class LinkProblem(Exception):
    """A request the pages refuse; `reason` picks the sentence shown (problem_<reason>)."""

    def __init__(self, reason: str, status_code: int = 400, days: int | None = None) -> None:
        self.reason, self.status_code, self.days = reason, status_code, days
        super().__init__(reason)


def link_days(settings: Settings, purpose: str) -> int:
    return settings.unsubscribe_link_days if purpose == "unsubscribe" else settings.preferences_link_days


def candidate_for(settings: Settings, token: str, purpose: str) -> int:
    """The candidate id the link was made for; LinkProblem if forged, too old or misused."""
    days = link_days(settings, purpose)
    if len(token) > MAX_TOKEN_CHARS:
        raise LinkProblem("tampered", days=days)
    try:
        return read_token(settings, token, purpose, max_age_days=days)
    except TokenProblem as problem:
        raise LinkProblem(problem.reason, days=days) from None


def evidence(request: Request, token: str, source: str) -> Evidence:
    """What we keep as proof of a change: time, which link (its id, not itself), user agent."""
    return Evidence(source=source, token_id=token_id(token),
                    user_agent=request.headers.get("user-agent"))
