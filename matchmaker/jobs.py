"""Long work (large imports, matching runs) as jobs with progress.

On the embedded default a job runs inline, right after the request that started it has
committed. With ``MATCHMAKER_JOB_QUEUE=rq`` and ``REDIS_URL`` set, jobs go to an RQ queue on
Redis and ``matchmaker worker`` runs them. Job functions take ids (not objects), open their own
transactions and record their progress on their own rows, so both paths behave the same.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

QUEUE_NAME = "matchmaker"


def _queue() -> Any:
    from redis import Redis
    from rq import Queue

    url = current_app.config.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return Queue(current_app.config.get("JOB_QUEUE_NAME") or QUEUE_NAME,
                 connection=Redis.from_url(url))


def uses_queue() -> bool:
    return current_app.config.get("JOB_QUEUE", "inline") == "rq"


def submit(func: Callable[..., Any], *args: Any) -> str:
    """Run ``func(*args)`` as a job; returns the job id (``"inline"`` when run at once)."""
    target = f"{func.__module__}:{func.__qualname__}"
    if uses_queue():
        job = _queue().enqueue(run_job, target, *args, job_timeout=3600)
        return str(job.id)
    func(*args)
    return "inline"


def run_job(target: str, *args: Any) -> Any:
    """Entry point in the worker: a fresh app context around the job function."""
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
