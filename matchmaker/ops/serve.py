"""``matchmaker serve``: the production stack as one supervised group of processes.

Three children: Gunicorn with the web workers (``matchmaker/gunicorn_conf.py``), the RQ worker
(``matchmaker worker``) and the scheduler (``matchmaker scheduler``). Each starts in its own
session, so a Ctrl-C in the terminal reaches only this supervisor, which then stops them in
order: TERM to all (Gunicorn lets requests in flight finish, the RQ worker finishes its job),
and KILL to the process groups of those still running after ``--stop-timeout``. When one child
exits on its own the others are stopped too and ``serve`` exits with code 1, so a service
manager (systemd, a container runtime) restarts the whole stack. HUP reloads: Gunicorn replaces
its workers gracefully (new code, no dropped request) and the worker and scheduler restart.

A small supervisor of our own rather than a Procfile runner: the children's output passes
through untouched (one JSON line per request stays one JSON line) and the order of a stop is
ours to choose. Each child can also run on its own (``gunicorn -c ...``, ``matchmaker worker``,
``matchmaker scheduler``) under another supervisor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from matchmaker.cli_support import InputError, _

POLL_S = 0.2
GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "gunicorn_conf.py"


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarting: bool = False
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, start_new_session=True)
        self.restarting = False
        self.started.append(time.monotonic())
        say(f"{self.name} started (pid {self.process.pid}): {' '.join(self.argv[1:])}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signum)

    def kill_group(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def say(message: str) -> None:
    print(f"matchmaker serve: {message}", file=sys.stderr, flush=True)


def stack(bind: str) -> list[Child]:
    python = sys.executable
    return [
        Child("web", [python, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), "--bind", bind,
                      "matchmaker:create_app()"]),
        Child("worker", [python, "-m", "matchmaker", "worker"]),
        Child("scheduler", [python, "-m", "matchmaker", "scheduler"]),
    ]


def supervise(children: list[Child], *, stop_timeout: float) -> int:
    """Run ``children`` until a signal or until one exits; returns the exit code for serve."""
    requested: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        requested.append(signum)

    previous = {s: signal.signal(s, on_signal)
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    exit_code = 0
    try:
        for child in children:
            child.start()
        while True:
            while requested and requested[0] == signal.SIGHUP:
                requested.pop(0)
                say("reloading (HUP)")
                for child in children:
                    if child.name == "web":
                        child.signal(signal.SIGHUP)  # Gunicorn: new workers, old ones finish
                    else:
                        child.restarting = True
                        child.signal(signal.SIGTERM)
            if requested:
                say(f"stopping ({signal.Signals(requested[0]).name})")
                break
            dead = [c for c in children if not c.alive()]
            failed = [c for c in dead if not c.restarting]
            for child in dead:
                if child.restarting:
                    child.start()
            if failed:
                for child in failed:
                    assert child.process is not None
                    say(f"{child.name} exited with code {child.process.returncode}; "
                        "stopping the stack")
                exit_code = 1
                break
            time.sleep(POLL_S)
    finally:
        stop(children, timeout=stop_timeout)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return exit_code


def stop(children: list[Child], *, timeout: float) -> None:
    for child in children:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(c.alive() for c in children) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    for child in children:
        if child.alive():
            say(f"{child.name} did not stop within {timeout:g} s; killing it")
        # The whole group: Gunicorn's workers and RQ's work horse too.
        child.kill_group()
        if child.process is not None:
            child.process.wait()
    say("stopped")


@click.command("serve")
@click.option("--bind", default=lambda: os.environ.get("MATCHMAKER_BIND", "127.0.0.1:8000"),
              show_default="MATCHMAKER_BIND or 127.0.0.1:8000",
              help="Address of the web workers (behind the TLS proxy).")
@click.option("--stop-timeout", default=60.0, show_default=True,
              help="Seconds the processes get to finish their work when stopping.")
@with_appcontext
def serve_command(bind: str, stop_timeout: float) -> None:
    """Run the production stack: Gunicorn web workers (WEB_CONCURRENCY), the RQ worker and the
    scheduler, until Ctrl-C or TERM (HUP reloads). Needs REDIS_URL and
    MATCHMAKER_JOB_QUEUE=rq."""
    config = current_app.config
    if config.get("JOB_QUEUE") != "rq" or not config.get("REDIS_URL"):
        raise InputError(_("matchmaker serve needs Redis for its jobs: set REDIS_URL and "
                           "MATCHMAKER_JOB_QUEUE=rq."))
    sys.exit(supervise(stack(bind), stop_timeout=stop_timeout))
