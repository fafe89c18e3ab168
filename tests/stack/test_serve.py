"""The production stack as processes: ``matchmaker serve`` (Gunicorn, RQ worker, scheduler)
on a fresh PostgreSQL database with the demo data and on Redis, walked over real HTTP.

Needs PostgreSQL (127.0.0.1:5432, as for the rest of the suite) and Redis (127.0.0.1:6379,
database 7 with a queue of its own). Runs only when the suite runs on PostgreSQL.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from redis import Redis

from tests.matchmaker.conftest import DATABASES, new_database

PORTS = range(5301, 5319)
REDIS_URL = os.environ.get("MATCHMAKER_TEST_REDIS", "redis://127.0.0.1:6379/7")
DEMO_PASSWORD = "assen-demo-2026"
READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif("postgresql" not in DATABASES,
                                reason="the production stack runs on PostgreSQL")


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class Stack:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    database_url: str
    queue: str

    def log(self) -> str:
        return self.stdout.read_text() + "\n--- stderr ---\n" + self.stderr.read_text()

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"started \(pid (\d+)\)", self.stderr.read_text())]


def matchmaker(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "matchmaker", *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    queue = f"stack-test-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(REDIS_URL)
    redis.ping()  # a clear failure when Redis is not running
    with new_database("postgresql", folder, "stack") as database_url:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
               "MATCHMAKER_JOB_QUEUE": "rq", "MATCHMAKER_JOB_QUEUE_NAME": queue,
               "MATCHMAKER_DEMO": "1", "SECRET_KEY": secrets.token_hex(32),
               "WEB_CONCURRENCY": "2", "MATCHMAKER_WEB_THREADS": "2",
               "MATCHMAKER_PASSWORD_TIME_COST": "1", "MATCHMAKER_PASSWORD_MEMORY_KIB": "64",
               "MATCHMAKER_LANG": "nl", "PYTHONUNBUFFERED": "1"}
        matchmaker(["db", "upgrade", "heads"], env)
        matchmaker(["demo"], env)
        port = free_port()
        stdout, stderr = folder / "stdout.log", folder / "stderr.log"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "matchmaker", "serve", "--bind", f"127.0.0.1:{port}",
                 "--stop-timeout", "30"], env=env, stdout=out, stderr=err,
                start_new_session=True)
        running = Stack(f"http://127.0.0.1:{port}", process, stdout, stderr, database_url, queue)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                assert process.poll() is None, "serve exited early:\n" + running.log()
                try:
                    if requests.get(running.url + "/ready", timeout=10).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or workers booting
                    pass
                assert time.monotonic() < deadline, "never ready:\n" + running.log()
                time.sleep(0.5)
            yield running
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    for pid in [process.pid, *running.child_pids()]:
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            for key in redis.scan_iter(f"*{queue}*"):
                redis.delete(key)
            redis.close()


def form_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the first form on ``page`` (the CSRF token, versions)."""
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}


def log_in(url: str, email: str) -> requests.Session:
    session = requests.Session()
    login = session.get(url + "/login", timeout=30)
    response = session.post(url + "/login", data={
        **form_fields(login.text), "email": email, "password": DEMO_PASSWORD}, timeout=30)
    assert response.status_code == 200 and "/login" not in response.url, response.text[:500]
    return session


def test_a_journey_through_the_production_stack(stack: Stack) -> None:
    url = stack.url
    assert requests.get(url + "/health", timeout=5).text == "ok"
    ready = requests.get(url + "/ready", timeout=5).json()
    assert ready == {"ready": True, "checks": {"database": "ok", "migrations": "ok",
                                               "redis": "ok"}}

    # Static files: fingerprinted names, cached for a year.
    login_page = requests.get(url + "/login", timeout=30).text
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', login_page)
    assert css, login_page[:500]
    static = requests.get(url + css.group(1), timeout=30)
    assert static.status_code == 200
    assert "immutable" in static.headers["Cache-Control"]
    assert "max-age=31536000" in static.headers["Cache-Control"]

    # A member registers demand for shared heat on its site.
    member = log_in(url, "lid@demo.example")
    dashboard = member.get(url + "/dashboard", timeout=30).text
    site_id = re.search(r"/sites/(\d+)/demand/", dashboard).group(1)
    company = html.unescape(re.search(r"<h1[^>]*>(.*?)</h1>", dashboard, re.DOTALL).group(1)).strip()
    form = member.get(f"{url}/sites/{site_id}/demand/shared_heat", timeout=30)
    saved = member.post(f"{url}/sites/{site_id}/demand/shared_heat", data={
        **form_fields(form.text), "quantity": "777", "stage": "interest", "note": ""},
        timeout=30)
    assert saved.status_code == 200 and saved.url.endswith("/dashboard"), saved.text[:800]

    # The coordinator sees it in the demand table; the request is logged with its id.
    coordinator = log_in(url, "coordinator@demo.example")
    request_id = f"journey-{uuid.uuid4().hex[:8]}"
    table = coordinator.get(url + "/coordinator/demand", params={
        "product": "shared_heat", "q": company}, headers={"X-Request-ID": request_id}, timeout=60)
    assert table.status_code == 200 and table.headers["X-Request-ID"] == request_id
    rows = [r for r in re.findall(r"<tr.*?</tr>", table.text, re.DOTALL)
            if re.search(r">777\sMWh", r) and html.escape(company) in r]
    assert rows, ("the member's new demand is not in the coordinator's table:\n"
                  + "\n".join(re.findall(r"<tr.*?</tr>", table.text, re.DOTALL))[:3000])

    # A matching run goes to the RQ worker; the page polls its status until it is done.
    runs = coordinator.get(url + "/coordinator/energy", timeout=30)
    started = coordinator.post(url + "/coordinator/energy/runs", data={
        **form_fields(runs.text), "mode": "annual", "max_distance_m": "1500"}, timeout=30)
    run_id = re.search(r"/coordinator/energy/runs/(\d+)$", started.url).group(1)
    deadline = time.monotonic() + 120
    while True:
        status = coordinator.get(f"{url}/coordinator/energy/runs/{run_id}/status.json",
                                 timeout=30).json()
        if status["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, f"the run never finished: {status}\n{stack.log()}"
        time.sleep(0.5)
    assert status["status"] == "done", stack.log()
    from rq import Queue
    from rq.job import Job

    redis = Redis.from_url(REDIS_URL)
    queue = Queue(stack.queue, connection=redis)
    finished = Job.fetch_many(queue.finished_job_registry.get_job_ids(), connection=redis)
    assert any(job and job.func_name == "matchmaker.jobs.run_job"
               and job.args == ("matchmaker.energy.services:execute_run", int(run_id))
               for job in finished), "the run did not go through the RQ worker"

    # Each scheduled command ran once at start on the worker and succeeded.
    ran = {job.args[0] for job in finished
           if job and job.func_name == "matchmaker.ops.schedule.run_scheduled"}
    assert ran == {"send-mail", "send-reminders", "snapshot-fibre", "purge"}, stack.log()
    assert not queue.failed_job_registry.get_job_ids(), stack.log()
    with psycopg.connect(stack.database_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT count(*) FROM fibre_snapshots WHERE day = "
                            "(now() AT TIME ZONE 'Europe/Amsterdam')::date").fetchone()[0] == 1

    # One JSON line per request, with the id we sent and the coordinator's user id.
    lines = [json.loads(line) for line in stack.stdout.read_text().splitlines()
             if line.startswith("{") and '"matchmaker.requests"' in line]
    ours = [e for e in lines if e["request_id"] == request_id]
    assert len(ours) == 1 and ours[0]["path"] == "/coordinator/demand"
    assert ours[0]["status"] == 200 and isinstance(ours[0]["user_id"], int)
    assert ours[0]["duration_ms"] > 0

    # HUP reloads: new web workers, a new RQ worker and scheduler; the stack stays up.
    assert len(stack.child_pids()) == 3
    booted = stack.stderr.read_text().count("Booting worker")
    stack.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(stack.child_pids()) < 5 or stack.stderr.read_text().count(
            "Booting worker") < booted + 2:
        assert stack.process.poll() is None, stack.log()
        assert time.monotonic() < deadline, "no reload:\n" + stack.log()
        time.sleep(0.5)
    assert requests.get(url + "/ready", timeout=30).status_code == 200

    # TERM stops the whole stack cleanly: exit code 0, no child left, the port closed.
    children = stack.child_pids()
    assert len(children) == 5  # web, worker, scheduler, and the reloaded worker and scheduler
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=STOP_TIMEOUT_S) == 0, stack.log()
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/health", timeout=5)
    assert "matchmaker serve: stopped" in stack.stderr.read_text()
