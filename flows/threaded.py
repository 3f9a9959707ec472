"""Flows on Prefect's async engine whose body is a plain sync function, run in a worker thread.

Why: Prefect 3.9's *sync* flow engine joins the flow run's heartbeat thread when the flow
returns, and that thread sleeps in whole seconds, so every sync flow run ends 0–1 s after its
body did: most of a rerun of a completed period (~1 s of work) or of a deliver hour with nothing
due. The async engine starts the same heartbeat thread (crash detection stays) but does not
join it: the thread sees the stop within a second on its own.

The body stays the sync function it was: it runs in a thread of its own with a copy of the flow
run's context and one sync API client, so tasks, `get_run_logger`, `prefect.runtime` and the task
runner see the flow run as before. Called from sync code (the CLI, tests, another flow) the flow
still returns its result; an async caller (Prefect's runner) awaits it. What changes for the body:
Prefect's artifact functions dispatch on the flow being async, so it calls them with `_sync=True`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import inspect
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from prefect import Flow
from prefect.context import SyncClientContext
from prefect.utilities.hashing import file_hash


class ThreadedFlow(Flow[Any, Any]):
    """An async flow that a sync caller calls like a sync one (it runs it to its end)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        awaited = _caller_is_a_coroutine(sys._getframe(1))  # `await nurture(...)`
        called = super().__call__(*args, **kwargs)
        if not inspect.iscoroutine(called) or awaited:
            return called
        if not _loop_running():
            return asyncio.run(called)
        # A sync caller under a loop of its own thread (Playwright's sync API, a notebook):
        # asyncio.run cannot nest, so the run gets a thread and a loop of its own.
        return _run_in_a_thread(called)

    def with_options(self, **options: Any) -> ThreadedFlow:  # type: ignore[override]
        copy = super().with_options(**options)
        copy.__class__ = ThreadedFlow  # Flow.with_options builds a plain Flow
        return copy  # type: ignore[return-value]


def threaded_flow(**options: Any) -> Callable[[Callable[..., Any]], ThreadedFlow]:
    """`@flow(**options)` for a sync `body`, run on the async engine (see the module's doc)."""

    def decorate(body: Callable[..., Any]) -> ThreadedFlow:
        @functools.wraps(body)
        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            return await _in_daemon_thread(_with_sync_client, body, *args, **kwargs)

        # The body's parameters, their annotations resolved in the body's module: Prefect builds
        # the parameter schema and validation model from them (reading this module's globals).
        in_thread.__signature__ = inspect.signature(body, eval_str=True)  # type: ignore[attr-defined]

        return ThreadedFlow(fn=in_thread, version=options.pop("version", None) or _version(body),
                            **options)

    return decorate


def _version(body: Callable[..., Any]) -> str | None:
    """The version Prefect gives a flow: the hash of its function's file (none outside a file)."""
    try:
        source = inspect.getsourcefile(body)
        return file_hash(source) if source else None
    except (OSError, TypeError):  # as Prefect: "<stdin>", "<string>", a REPL
        return None


async def _in_daemon_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`asyncio.to_thread`, on a daemon thread of its own: an interrupted run (Ctrl-C) ends the
    process as a sync flow's does, instead of waiting at exit for the body in the loop's executor."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()  # the flow run's context, as asyncio.to_thread copies it

    def settle(outcome: Any, failed: bool) -> None:
        if not done.done():
            done.set_exception(outcome) if failed else done.set_result(outcome)

    def run() -> None:
        try:
            outcome, failed = context.run(function, *args, **kwargs), False
        except BaseException as problem:  # handed to the engine, which fails the flow run with it
            outcome, failed = problem, True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome, failed)

    threading.Thread(target=run, daemon=True, name="flow-body").start()
    return await done


def _with_sync_client(body: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `body` with one sync API client for its tasks and artifacts, as the sync engine does
    (without it, each task run and artifact call opens a client of its own: an SSL context each)."""
    _freeze_what_was_imported()
    with SyncClientContext.get_or_create():
        return body(*args, **kwargs)


_frozen = threading.Lock()
_froze = False


def _freeze_what_was_imported() -> None:
    """At the first run of a process, move what is alive (Prefect, pandas, vivier's modules and
    settings: live until the process ends) out of the garbage collector's sight.

    Each full collection walked all of it, ~0.25 s at a time: most of a rerun's cost, and a
    share of every run's. Once per process only: what a later run leaves alive may be garbage."""
    global _froze
    with _frozen:
        if not _froze:
            gc.freeze()
            _froze = True


def _caller_is_a_coroutine(frame: Any) -> bool:
    return bool(frame.f_code.co_flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR))


def _run_in_a_thread(called: Coroutine[Any, Any, Any]) -> Any:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = asyncio.run(called)
        except BaseException as problem:  # raised again in the caller's thread
            outcome["problem"] = problem

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,),
                              name="flow-call")
    thread.start()
    thread.join()
    if "problem" in outcome:
        raise outcome["problem"]
    return outcome["result"]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
