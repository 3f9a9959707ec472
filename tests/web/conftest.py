"""The preference centre served for real: uvicorn on 127.0.0.1 in a thread, httpx as the client."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlalchemy.orm import Session

from app.web import create_app
from vivier.messages.tokens import make_token
from vivier.settings import Settings, get_settings


@dataclass
class LiveServer:
    """The app on a real socket; `client` speaks HTTP to it with no cookie jar in play."""

    url: str
    settings: Settings
    client: httpx.Client

    def link(self, candidate_id: int, purpose: str) -> str:
        """The path of a candidate's link, signed with the server's current key."""
        prefix = "/u/" if purpose == "unsubscribe" else "/p/"
        return prefix + make_token(self.settings, candidate_id, purpose)


def _serve(settings: Settings, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    # log_config=None: uvicorn's loggers reach the root logger, so caplog sees what a server prints.
    config = uvicorn.Config(create_app(settings), lifespan="off", log_level="warning",
                            access_log=False, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        thread.join(0.01)
    assert server.started, "uvicorn did not start within 5 s"
    return server, thread


@pytest.fixture
def serve(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LiveServer]]:
    """Start the app (settings from the environment, plus overrides) on a free local port."""
    running: list[tuple[uvicorn.Server, threading.Thread, httpx.Client]] = []

    def start(**env: str) -> LiveServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("VIVIER_PUBLIC_BASE_URL", url)  # links in messages point here
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        current = get_settings()
        server, thread = _serve(current, sock)
        client = httpx.Client(base_url=url, timeout=30)
        running.append((server, thread, client))
        return LiveServer(url, current, client)

    yield start
    for server, thread, client in running:
        client.close()
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve()


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, "the preference page has no form token"
    return found.group(1)


def rows(engine: sa.Engine, model: type, **where: object) -> list:
    """Every row of a table as model objects (optionally filtered), oldest first."""
    query = sa.select(model).order_by(*model.__table__.primary_key.columns)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with Session(engine) as session:
        return list(session.scalars(query))
