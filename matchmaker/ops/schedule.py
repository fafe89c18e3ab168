"""The scheduled work, run by RQ's cron scheduler on the RQ worker.

``matchmaker scheduler`` registers each command of ``SCHEDULE`` with ``rq.cron.CronScheduler``,
which puts a job on the queue at each cron time; ``matchmaker worker`` runs it like any other
job. At start the scheduler also queues every command once: each is safe to repeat, so this
catches up on what was missed while the stack was down (the day's fibre snapshot above all).
Cron times are in the scheduler's local time zone. Run one scheduler per installation: two
would queue everything twice (harmless, as the commands are idempotent, but wasteful).

Without RQ, the same commands can run from cron: see README, *Deploying*.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass

import click
from flask import Flask
from flask.cli import ScriptInfo, with_appcontext


@dataclass(frozen=True)
class Scheduled:
    command: str  # a `matchmaker` command without arguments
    cron: str  # minute hour day month weekday
    why: str
    timeout_s: int = 1800


SCHEDULE: tuple[Scheduled, ...] = (
    Scheduled("send-mail", "*/5 * * * *", "deliver the outbox over SMTP", 600),
    Scheduled("send-reminders", "7 * * * *", "queue the group buy deadline reminders"),
    # After midnight in Amsterdam in every season when the server runs on UTC or local time.
    Scheduled("snapshot-fibre", "15 0 * * *", "the day's fibre snapshot and threshold e-mail"),
    Scheduled("purge", "45 3 * * *", "apply the retention periods"),
)


class ScheduledCommandFailed(RuntimeError):
    """A scheduled command ended with an error (the job is marked failed in RQ)."""


def run_command(app: Flask, name: str) -> str:
    """Run the command ``name`` of ``app`` in-process as ``matchmaker NAME`` would; returns
    what it printed. A user error (exit code 2) or a crash fails the job."""
    from matchmaker.database import write_intent  # not at import: `--help` stays light

    command = app.cli.commands[name]
    out = io.StringIO()
    with app.app_context(), write_intent(), redirect_stdout(out):
        try:
            command.main(args=[], prog_name=f"matchmaker {name}", standalone_mode=False,
                         obj=ScriptInfo(create_app=lambda: app))
        except click.ClickException as exc:
            raise ScheduledCommandFailed(f"{name}: {exc.format_message()}") from exc
    return out.getvalue()


def run_scheduled(name: str) -> str:
    """The RQ job: a fresh app from the environment, then the command."""
    from matchmaker import create_app

    output = run_command(create_app(), name)
    print(output, end="", flush=True)  # into the worker's log
    return output


@click.command("scheduler")
@click.option("--catch-up/--no-catch-up", default=True, show_default=True,
              help="Queue every scheduled command once at start.")
@with_appcontext
def scheduler_command(catch_up: bool) -> None:
    """Queue the scheduled commands at their times (needs REDIS_URL; `matchmaker worker` runs
    them): send-mail every 5 minutes, send-reminders hourly, snapshot-fibre and purge daily."""
    from rq.cron import CronScheduler

    from matchmaker.jobs import _queue

    queue = _queue()
    scheduler = CronScheduler(connection=queue.connection)
    for entry in SCHEDULE:
        scheduler.register(run_scheduled, queue.name, args=(entry.command,), cron=entry.cron,
                           job_timeout=entry.timeout_s, name=f"{queue.name}:{entry.command}")
        if catch_up:
            queue.enqueue(run_scheduled, entry.command, job_timeout=entry.timeout_s,
                          description=f"{entry.command} (catch-up at start)")
    scheduler.start()
