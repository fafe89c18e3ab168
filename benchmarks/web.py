"""Benchmark the main pages of every role on the production stack, town against province.

Run from the repository root (``make bench-web``)::

    .venv/bin/python benchmarks/web.py                    # town and province, 10 requests a page
    .venv/bin/python benchmarks/web.py --repeat 5 --scales province
    .venv/bin/python benchmarks/web.py --rebuild          # build the databases again

What it does, in one run:

1. Builds, or reuses when present, two PostgreSQL databases at 127.0.0.1:5432 (user postgres;
   ``--database-prefix`` names them): ``matchmaker_bench_town`` (``matchmaker demo``, Assen's 450 companies) and
   ``matchmaker_bench_province`` (``matchmaker demo --scale province``: 20,000 organisations,
   50,000 sites, 120,000 demand rows, 60,000 register addresses; seeded, so every build is the
   same). A reused database is upgraded to the migrations' heads first.
2. For each scale, starts the production stack (``matchmaker serve``: Gunicorn with
   ``--workers`` × ``--threads``, the RQ worker and the scheduler, Redis database 7 or
   ``MATCHMAKER_BENCH_REDIS``) on a port in 5301–5319 (or ``MATCHMAKER_BENCH_PORTS``, e.g.
   ``5501-5519``), waits for ``/ready``, logs in as each demo role and requests each main page
   ``--warmup`` times unmeasured (1: the first request of a page after a start fills the
   per-process caches), then ``--repeat`` times, one after another (pages slower than 3 s: 3
   times). A reused database gets the day's scheduled work first (``snapshot-fibre``, as the
   scheduler runs it after midnight). The login page is
   the named peer: a page that reads nothing but the session, measured in the same run.
3. Server time is what the app itself logs for the request (``duration_ms`` in its JSON line,
   matched by the ``X-Request-ID`` the benchmark sends): the time in the app, the commit
   included, without the network or the client. For exports the table shows the time to the
   first byte as the client sees it, which is what "starts streaming" means. The GeoPackage of
   every bundle is written by a job: its row is the time of the POST that starts it (the
   answer is the file's page), and a note gives the time until the file is ready.
4. Memory: the resident set (RSS) of the Gunicorn master and its workers after the scale's
   requests, and of the RQ worker.
5. Throughput: ``wrk -t2 -c8 -d15s`` on the coordinator's demand table (with its session
   cookie) and on the login page, when ``wrk`` is installed (Debian: ``apt-get install wrk``).

The targets of issue #14 are printed next to each row (pass/fail); the benchmark exits 0 either
way: it measures, the test suite asserts behaviour.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("MATCHMAKER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MATCHMAKER_BENCH_REDIS", "redis://127.0.0.1:6379/7")
#: Ports the stack may take (each engineer's share of the machine): "FIRST-LAST".
_FIRST, _LAST = os.environ.get("MATCHMAKER_BENCH_PORTS", "5301-5319").split("-")
PORTS = range(int(_FIRST), int(_LAST) + 1)
DEMO_PASSWORD = "assen-demo-2026"
SLOW_S = 3.0  # pages slower than this are requested 3 times only
WARMUP = 1  # unmeasured requests per page first (--warmup)
REQUEST_TIMEOUT_S = 600

# Targets from issue #14 (server time on this 2-core machine, at province scale).
INTERACTIVE_P95_MS = 250.0
LOGIN_RATIO = 50.0
FAST_P95_MS = 100.0  # member dashboard, fibre API progress
EXPORT_TTFB_MS = 1000.0
WRK_TARGET_RPS = 100.0


@dataclass
class Page:
    key: str
    label: str
    role: str  # anonymous, member, coordinator, provider, admin, api
    path: str | Callable[[Context], str | None]
    kind: str = "interactive"  # interactive, fast, export, reference


@dataclass
class Context:
    url: str
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    token: str = ""
    found: dict[str, str | None] = field(default_factory=dict)


def _first_link(ctx: Context, role: str, page: str, pattern: str, *, last: bool = False
                ) -> str | None:
    key = f"{role}:{page}:{pattern}:{last}"
    if key not in ctx.found:
        text = ctx.sessions[role].get(ctx.url + page, timeout=REQUEST_TIMEOUT_S).text
        links = re.findall(pattern, text)
        ctx.found[key] = (links[-1] if last else links[0]) if links else None
    return ctx.found[key]


def _latest_check(ctx: Context) -> str | None:
    """The provider's newest fibre check (the province-wide one on the province data)."""
    ids = re.findall(r'href="/fibre/checks/(\d+)"', ctx.sessions["provider"].get(
        ctx.url + "/fibre/checks", timeout=REQUEST_TIMEOUT_S).text)
    return max(ids, key=int) if ids else None


PAGES = [
    Page("login", "login page (peer)", "anonymous", "/login", "reference"),
    Page("dashboard", "member dashboard", "member", "/dashboard", "fast"),
    Page("matches", "member energy matches", "member", "/energy/matches"),
    Page("member_campaigns", "member group buys", "member", "/campaigns"),
    Page("member_campaign", "member group buy page", "member",
         lambda c: _first_link(c, "member", "/campaigns", r'href="(/campaigns/\d+)"')),
    Page("demand_1", "demand table, page 1", "coordinator", "/coordinator/demand"),
    Page("demand_2", "demand table, page 2", "coordinator", "/coordinator/demand?page=2"),
    # The map's first view of the whole province (clusters per zoom; mapgrid) and a zoomed one.
    Page("demand_map", "demand map data (province)", "coordinator",
         "/coordinator/demand/map.json?bbox=6.1,52.6,7.1,53.2&zoom=9"),
    Page("demand_map_zoom", "demand map data (a park)", "coordinator",
         "/coordinator/demand/map.json?bbox=6.54,52.98,6.58,53.0&zoom=15"),
    Page("demand_csv", "demand CSV export (TTFB)", "coordinator", "/coordinator/demand.csv",
         "export"),
    Page("demand_geojson", "demand GeoJSON export (TTFB)", "coordinator",
         "/coordinator/demand.geojson", "export"),
    # The largest export: every solar bundle with its sites, as a GeoPackage, written by a
    # job; the row is the time to its page (the job started), the note the time to the file.
    Page("bundles_gpkg", "all bundles GeoPackage (job start)", "coordinator",
         "/coordinator/bundles/export-all.gpkg?product=solar_roof", "job"),
    Page("bundles", "bundle map (solar)", "coordinator", "/coordinator/bundles?product=solar_roof"),
    Page("bundles_data", "bundle map data (hulls)", "coordinator",
         "/coordinator/bundles.geojson?product=solar_roof"),
    Page("campaigns", "coordinator group buys", "coordinator", "/coordinator/campaigns"),
    Page("campaign", "coordinator group buy page", "coordinator",
         lambda c: _first_link(c, "coordinator", "/coordinator/campaigns",
                               r'href="(/coordinator/campaigns/\d+)"', last=True)),
    Page("provider", "provider home", "provider", "/provider"),
    Page("checks", "fibre checks list", "provider", "/fibre/checks"),
    Page("check", "fibre check page", "provider",
         lambda c: f"/fibre/checks/{i}" if (i := _latest_check(c)) else None),
    Page("progress_api", "fibre API progress", "api",
         lambda c: f"/api/v1/checks/{i}/progress" if (i := _latest_check(c)) else None, "fast"),
    Page("admin_users", "admin users", "admin", "/admin/users"),
]
ACCOUNTS = {"member": "lid@demo.example", "coordinator": "coordinator@demo.example",
            "provider": "aanbieder@demo.example", "admin": "beheer@demo.example"}


@dataclass
class Result:
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    note: str = ""


@dataclass
class ScaleRun:
    scale: str
    results: dict[str, Result] = field(default_factory=dict)
    rss_web_mb: float = 0.0
    rss_worker_mb: float = 0.0
    web_processes: int = 0
    wrk: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


# --- databases ---------------------------------------------------------------------------------

def db_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def matchmaker(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "matchmaker", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"matchmaker {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def database_exists(name: str) -> bool:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() \
            is not None


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def has_scale(name: str, scale: str) -> bool:
    """Whether the database holds the demo of ``scale`` completely (a build that was stopped
    half-way rolled back, so a marker row is enough)."""
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + name) as conn:
        try:
            demo = conn.execute("SELECT 1 FROM users WHERE email = 'beheer@demo.example'"
                                ).fetchone()
            province = conn.execute("SELECT 1 FROM areas WHERE name = 'Kring Emmen'").fetchone()
        except psycopg.errors.UndefinedTable:
            return False
    return demo is not None and (scale == "town" or province is not None)


def ensure_database(scale: str, name: str, env: dict[str, str], *, rebuild: bool,
                    template: str | None) -> None:
    if rebuild:
        drop_database(name)
    if database_exists(name) and has_scale(name, scale):
        print(f"[{scale}] reusing database {name}", flush=True)
        matchmaker(["db", "upgrade", "heads"], {**env, "DATABASE_URL": db_url(name)})
        # Planner statistics (a database built before the demo loader ran ANALYZE had none).
        with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + name, autocommit=True) as conn:
            conn.execute("ANALYZE")
        # The day's scheduled work (as the scheduler does after midnight): pages only read it.
        matchmaker(["snapshot-fibre"], {**env, "DATABASE_URL": db_url(name)})
        return
    drop_database(name)
    started = time.perf_counter()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if template and database_exists(template) and has_scale(template, "town"):
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    scale_env = {**env, "DATABASE_URL": db_url(name)}
    matchmaker(["db", "upgrade", "heads"], scale_env)
    print(f"[{scale}] building {name} ...", flush=True)
    matchmaker(["demo", "--scale", scale], scale_env)
    print(f"[{scale}] built in {time.perf_counter() - started:.0f} s", flush=True)


def table_counts(name: str) -> dict[str, int]:
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + name) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                for table in ("organisations", "sites", "demands", "address_records")}


# --- the stack ---------------------------------------------------------------------------------

def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    sys.exit(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class Stack:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in re.findall(
            r"(\w+) started \(pid (\d+)\)", self.stderr.read_text())}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_stack(name: str, env: dict[str, str], folder: Path, *, workers: int, threads: int
                ) -> Stack:
    port = free_port()
    stack_env = {**env, "DATABASE_URL": db_url(name), "WEB_CONCURRENCY": str(workers),
                 "MATCHMAKER_WEB_THREADS": str(threads),
                 # Province pages took up to 30 s before the speed work: let them finish.
                 "MATCHMAKER_WEB_TIMEOUT": str(REQUEST_TIMEOUT_S)}
    stdout, stderr = folder / f"{name}.out", folder / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "matchmaker", "serve", "--bind", f"127.0.0.1:{port}",
             "--stop-timeout", "30"], env=stack_env, cwd=ROOT, stdout=out, stderr=err)
    stack = Stack(f"http://127.0.0.1:{port}", process, stdout, stderr)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            sys.exit("matchmaker serve exited:\n" + stderr.read_text()[-3000:])
        try:
            if requests.get(stack.url + "/ready", timeout=10).status_code == 200:
                return stack
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            stack.stop()
            sys.exit("the stack never became ready:\n" + stderr.read_text()[-3000:])
        time.sleep(0.5)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# --- requests ----------------------------------------------------------------------------------

def form_fields(page: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}


def log_in(url: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(url + "/login", timeout=60)
    response = session.post(url + "/login", data={**form_fields(page.text), "email": email,
                                                  "password": DEMO_PASSWORD}, timeout=120)
    if "/login" in response.url:
        sys.exit(f"cannot log in as {email}")
    return session


def server_times(stack: Stack) -> dict[str, float]:
    times = {}
    for line in stack.stdout.read_text().splitlines():
        if line.startswith("{") and '"matchmaker.requests"' in line:
            entry = json.loads(line)
            times[entry["request_id"]] = float(entry["duration_ms"])
    return times


def measure(stack: Stack, ctx: Context, page: Page, repeat: int, scale: str) -> Result:
    result = Result()
    path = page.path(ctx) if callable(page.path) else page.path
    if path is None:
        result.note = "no such page in this data"
        return result
    session = requests.Session() if page.role == "anonymous" else ctx.sessions.get(page.role)
    headers = {"Authorization": f"Bearer {ctx.token}"} if page.role == "api" else {}
    if session is None:
        session = requests.Session()
    if page.kind == "job":
        return measure_job(stack, ctx, page, path, session, scale)
    for _ in range(WARMUP):  # not measured: the first request of a page fills caches
        session.get(stack.url + path, headers=headers, timeout=REQUEST_TIMEOUT_S).close()
    ids: list[str] = []
    n = repeat
    i = 0
    while i < n:
        rid = f"bench-{scale}-{page.key}-{i}-{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        with session.get(stack.url + path, headers={**headers, "X-Request-ID": rid},
                         stream=True, timeout=REQUEST_TIMEOUT_S) as response:
            # One iterator: a second one over a chunked body would find nothing left to read.
            chunks = response.iter_content(chunk_size=65536)
            next(chunks, b"")
            ttfb = time.perf_counter() - started
            for _chunk in chunks:
                pass
            total = time.perf_counter() - started
        result.statuses.add(response.status_code)
        result.client_ms.append(total * 1000)
        result.ttfb_ms.append(ttfb * 1000)
        ids.append(rid)
        if i == 0 and total > SLOW_S:
            n = min(repeat, 3)
        i += 1
    time.sleep(0.3)  # the log line is written after the response
    logged = server_times(stack)
    result.server_ms = [logged[r] for r in ids if r in logged]
    return result


def measure_job(stack: Stack, ctx: Context, page: Page, path: str, session: requests.Session,
                scale: str, repeat: int = 3) -> Result:
    """A file written by a job: the POST that starts it (time to the response: the page of the
    file) and, in the note, the time until the file is ready and its size."""
    result = Result()
    form = session.get(stack.url + "/coordinator/bundles?product=solar_roof",
                       timeout=REQUEST_TIMEOUT_S).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    ready_s: list[float] = []
    ids = []
    for i in range(repeat):
        rid = f"bench-{scale}-{page.key}-{i}-{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        response = session.post(stack.url + path, data={"csrf_token": token.group(1) if token
                                                        else ""},
                                headers={"X-Request-ID": rid}, allow_redirects=False,
                                timeout=REQUEST_TIMEOUT_S)
        result.ttfb_ms.append((time.perf_counter() - started) * 1000)
        result.statuses.add(200 if response.status_code == 303 else response.status_code)
        ids.append(rid)
        if response.status_code != 303:
            continue
        where = stack.url + response.headers["Location"]
        while True:
            status = session.get(where + "/status.json", timeout=60).json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        ready_s.append(time.perf_counter() - started)
        size = len(session.get(where + "/download", timeout=REQUEST_TIMEOUT_S).content)
        if status["status"] != "done":
            result.statuses.add(500)
    time.sleep(0.3)
    logged = server_times(stack)
    result.server_ms = [logged[r] for r in ids if r in logged]
    result.client_ms = result.ttfb_ms
    if ready_s:
        result.note = (f"file ready after {min(ready_s):.1f}–{max(ready_s):.1f} s, "
                       f"{size / 1e6:.1f} MB")
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_wrk(url: str, cookie: str, seconds: int) -> str:
    if shutil.which("wrk") is None:
        return "wrk not installed"
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "30s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: session={cookie}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=seconds + 120)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    timeouts = re.search(r"timeout (\d+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    parts = [f"{float(rps.group(1)):.1f} req/s" if rps else "no result"]
    if total:
        parts.append(f"{total.group(1)} requests")
    if errors:
        parts.append(f"{errors.group(1)} non-2xx")
    if timeouts and timeouts.group(1) != "0":
        parts.append(f"{timeouts.group(1)} timeouts")
    return ", ".join(parts)


def run_scale(scale: str, name: str, env: dict[str, str], folder: Path, args: argparse.Namespace
              ) -> ScaleRun:
    run = ScaleRun(scale, counts=table_counts(name))
    token_out = matchmaker(["create-token", ACCOUNTS["provider"], "--name", "bench-web"],
                           {**env, "DATABASE_URL": db_url(name)})
    stack = start_stack(name, env, folder, workers=args.workers, threads=args.threads)
    try:
        ctx = Context(stack.url, token=token_out.strip().splitlines()[-1].strip())
        for page in PAGES:
            if page.role in ACCOUNTS and page.role not in ctx.sessions:
                ctx.sessions[page.role] = log_in(stack.url, ACCOUNTS[page.role])
            if page.key == "demand_csv":  # exports with contact details want a fresh login
                ctx.sessions["coordinator"] = log_in(stack.url, ACCOUNTS["coordinator"])
            print(f"[{scale}] {page.label} ...", end=" ", flush=True)
            run.results[page.key] = result = measure(stack, ctx, page, args.repeat, scale)
            print(f"p50 {percentile(result.server_ms, .5):.0f} ms, "
                  f"status {sorted(result.statuses)} {result.note}", flush=True)
        pids = stack.pids()
        web = pids.get("web", 0)
        web_pids = [web, *children_of(web)] if web else []
        run.web_processes = len(web_pids)
        run.rss_web_mb = sum(rss_mb(p) for p in web_pids)
        worker = pids.get("worker", 0)
        run.rss_worker_mb = rss_mb(worker) + sum(rss_mb(p) for p in children_of(worker))
        if args.wrk_seconds > 0:
            session = log_in(stack.url, ACCOUNTS["coordinator"])
            cookie = session.cookies.get("session") or ""
            print(f"[{scale}] wrk ...", flush=True)
            run.wrk["login"] = run_wrk(stack.url + "/login", "", args.wrk_seconds)
            run.wrk["demand"] = run_wrk(stack.url + "/coordinator/demand", cookie,
                                        args.wrk_seconds)
    finally:
        stack.stop()
    return run


# --- the report --------------------------------------------------------------------------------

def verdict(page: Page, result: Result, login_p50: float) -> str:
    if not result.server_ms and not result.ttfb_ms:
        return "–"
    if result.statuses - {200}:
        return f"FAIL (HTTP {','.join(map(str, sorted(result.statuses)))})"
    if page.kind == "reference":
        return ""
    if page.kind in ("export", "job"):
        return "pass" if percentile(result.ttfb_ms, .95) <= EXPORT_TTFB_MS else "FAIL"
    p95 = percentile(result.server_ms, .95)
    limit = FAST_P95_MS if page.kind == "fast" else INTERACTIVE_P95_MS
    ok = p95 <= limit and percentile(result.server_ms, .5) <= LOGIN_RATIO * login_p50
    return "pass" if ok else "FAIL"


def target_text(page: Page) -> str:
    return {"reference": "(peer)", "export": f"TTFB ≤ {EXPORT_TTFB_MS:.0f} ms",
            "job": f"started ≤ {EXPORT_TTFB_MS:.0f} ms",
            "fast": f"p95 ≤ {FAST_P95_MS:.0f} ms, ≤ {LOGIN_RATIO:.0f}× login",
            "interactive": f"p95 ≤ {INTERACTIVE_P95_MS:.0f} ms, ≤ {LOGIN_RATIO:.0f}× login",
            }[page.kind]


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def report(runs: list[ScaleRun], args: argparse.Namespace) -> str:
    lines = []
    head = f"{'page':<30}"
    for run in runs:
        head += f" | {run.scale + ' p50':>14} {'p95':>8} {'×login':>7}"
    head += f" | {'target':<28}" + "".join(f" | {r.scale:<10}" for r in runs)
    lines += [head, "-" * len(head)]
    login = {r.scale: percentile(r.results["login"].server_ms, .5) for r in runs}
    for page in PAGES:
        row = f"{page.label:<30}"
        verdicts = []
        for run in runs:
            result = run.results.get(page.key, Result())
            values = result.ttfb_ms if page.kind in ("export", "job") else result.server_ms
            p50, p95 = percentile(values, .5), percentile(values, .95)
            ratio = p50 / login[run.scale] if login[run.scale] else float("nan")
            row += f" | {fmt_ms(p50):>14} {fmt_ms(p95):>8} {ratio:>6.0f}×"
            verdicts.append(verdict(page, result, login[run.scale])
                            or ("" if page.kind == "job" else result.note))
        row += f" | {target_text(page):<28}" + "".join(f" | {v:<10}" for v in verdicts)
        lines.append(row)
    lines.append("")
    lines.append("Exports: time to first byte as the client sees it; other rows: server time "
                 "from the app's request log (ms).")
    lines.append("Exports stream: the first byte leaves when the first rows are read, the "
                 "rest follows as the client reads. Time to the whole file, client side: " +
                 "; ".join(f"{r.scale} CSV p50 "
                           f"{fmt_ms(percentile(r.results['demand_csv'].client_ms, .5))} ms"
                           for r in runs if "demand_csv" in r.results))
    for page in PAGES:
        if page.kind == "job":
            lines.append(f"{page.label}: " + "; ".join(
                f"{r.scale} {r.results[page.key].note or '–'}" for r in runs
                if page.key in r.results))
    lines.append("")
    for run in runs:
        c = run.counts
        lines.append(f"{run.scale}: {c['organisations']:,} organisations, {c['sites']:,} sites, "
                     f"{c['demands']:,} demand rows, {c['address_records']:,} addresses; "
                     f"RSS web {run.rss_web_mb:,.0f} MB ({run.web_processes} processes: "
                     f"Gunicorn master + {args.workers} workers × {args.threads} threads), "
                     f"RQ worker {run.rss_worker_mb:,.0f} MB")
        for what, text in run.wrk.items():
            target = (f" (target ≥ {WRK_TARGET_RPS:.0f} req/s: "
                      f"{'pass' if _rps(text) >= WRK_TARGET_RPS else 'FAIL'})"
                      if what == "demand" and not math.isnan(_rps(text)) else "")
            lines.append(f"  wrk -t2 -c8 -d{args.wrk_seconds}s {what:<7} {text}{target}")
    return "\n".join(lines)


def _rps(text: str) -> float:
    match = re.match(r"([\d.]+) req/s", text)
    return float(match.group(1)) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="town,province")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured requests per page before measuring (caches)")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--database-prefix", default="matchmaker_bench",
                        help="the databases are PREFIX_town and PREFIX_province")
    args = parser.parse_args()
    global WARMUP
    WARMUP = args.warmup
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    env = {**os.environ, "REDIS_URL": REDIS_URL, "MATCHMAKER_JOB_QUEUE": "rq",
           "MATCHMAKER_JOB_QUEUE_NAME": "bench-web", "MATCHMAKER_DEMO": "1",
           "SECRET_KEY": secrets.token_hex(32), "MATCHMAKER_LANG": "en",
           "PYTHONUNBUFFERED": "1"}
    names = {scale: f"{args.database_prefix}_{scale}" for scale in ("town", "province")}
    for scale in scales:
        ensure_database(scale, names[scale], env, rebuild=args.rebuild,
                        template=names["town"] if scale == "province" else None)
    runs = []
    with TemporaryDirectory(prefix="bench-web-") as tmp:
        for scale in scales:
            runs.append(run_scale(scale, names[scale], env, Path(tmp), args))
    table = report(runs, args)
    print()
    print(table)
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
