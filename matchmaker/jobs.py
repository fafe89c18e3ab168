"""Long work (imports, matching runs, hub analyses) as jobs that never hold the browser.

``submit(func, *args)`` hands ``func(*args)`` to a worker and returns at once; the page that
started it polls the progress the job records on its own rows. Where the work runs depends on
``MATCHMAKER_JOB_QUEUE``:

- ``thread`` (the embedded default): a worker thread that the app starts itself, one job at a
  time, in a fresh app context. Nothing to install or run besides the app.
- ``rq`` (production): an RQ queue on ``REDIS_URL``, run by ``matchmaker worker`` (started by
  ``matchmaker serve``), so jobs survive a web worker's restart and scale apart from the web.
- ``inline``: at once, in the caller (for tests that share one rolled-back connection).

Within a request a job starts only after the request has committed (``start_pending`` is called
by the commit at the edge), so the worker always sees the rows the request wrote; a request that
rolls back drops its jobs. Job functions take ids (not objects), open their own transactions and
record progress and failure on their own rows, so all three ways behave the same.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import import_module
from typing import Any

import click
from flask import Flask, current_app, g, has_request_context
from flask.cli import with_appcontext

QUEUE_NAME = "matchmaker"
_BACKENDS = ("thread", "rq", "inline")
_lock = threading.Lock()


def _queue() -> Any:
    from redis import Redis
    from rq import Queue

    url = current_app.config.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return Queue(current_app.config.get("JOB_QUEUE_NAME") or QUEUE_NAME,
                 connection=Redis.from_url(url))


def backend() -> str:
    """``thread``, ``rq`` or ``inline`` (an unknown value falls back to the thread)."""
    value = str(current_app.config.get("JOB_QUEUE") or "thread")
    return value if value in _BACKENDS else "thread"


def uses_queue() -> bool:
    return backend() == "rq"


def submit(func: Callable[..., Any], *args: Any) -> str:
    """Run ``func(*args)`` as a job; returns the job's id at once.

    Inside a request the job starts when the request has committed (see module docstring).
    """
    target = f"{func.__module__}:{func.__qualname__}"
    job_id = uuid.uuid4().hex
    if backend() == "inline":
        func(*args)
        return "inline"
    if has_request_context():
        g.setdefault("pending_jobs", []).append((job_id, target, args))
    else:
        _start(current_app._get_current_object(), job_id, target, args)  # type: ignore[attr-defined]
    return job_id


def start_pending() -> None:
    """Start the jobs of a request that has just committed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for job_id, target, args in g.pop("pending_jobs", []):
        _start(app, job_id, target, args)


def drop_pending() -> None:
    """A request that rolled back starts none of its jobs."""
    g.pop("pending_jobs", None)


def _start(app: Flask, job_id: str, target: str, args: tuple[Any, ...]) -> None:
    if backend() == "rq":
        _queue().enqueue(run_job, target, *args, job_id=job_id, job_timeout=3600)
        return
    _executor(app).submit(_run_in_thread, app, target, args)


def _executor(app: Flask) -> ThreadPoolExecutor:
    """The app's own worker: one thread, so jobs queue instead of competing for the cores
    and, on SQLite, for the one writer."""
    with _lock:
        executor = app.extensions.get("matchmaker_jobs")
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matchmaker-job")
            app.extensions["matchmaker_jobs"] = executor
        return executor  # type: ignore[no-any-return]


def _run_in_thread(app: Flask, target: str, args: tuple[Any, ...]) -> Any:
    from matchmaker.database import write_intent
    from matchmaker.extensions import db

    module, name = target.split(":")
    with app.app_context(), write_intent():
        try:
            return getattr(import_module(module), name)(*args)
        except Exception:  # the job records its own failure; keep the worker alive
            app.logger.exception("job %s failed", target)
            db.session.rollback()
            return None


def wait_idle(app: Flask, timeout: float = 300.0) -> None:
    """Wait until every job submitted to the app's worker thread so far has finished (for the
    command line and tests; pages poll instead)."""
    executor = app.extensions.get("matchmaker_jobs")
    if executor is None:
        return
    marker: Future[None] = executor.submit(lambda: None)
    marker.result(timeout=timeout)


def run_job(target: str, *args: Any) -> Any:
    """Entry point in the RQ worker: a fresh app context around the job function."""
    from matchmaker import create_app
    from matchmaker.database import write_intent

    module, name = target.split(":")
    app = create_app()
    with app.app_context(), write_intent():
        return getattr(import_module(module), name)(*args)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run queued jobs (needs MATCHMAKER_JOB_QUEUE=rq and REDIS_URL)."""
    from rq import Worker

    queue = _queue()
    Worker([queue], connection=queue.connection).work(burst=burst)
