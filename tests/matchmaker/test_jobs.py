"""Long work runs in the background in every set-up: on the embedded default in a worker thread
that the app starts itself, after the request that asked for it has committed."""

from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade

from matchmaker import create_app, jobs
from matchmaker.auth.models import Role
from matchmaker.database import write_intent
from matchmaker.energy.models import MatchRun, RunStatus
from matchmaker.extensions import db

from .conftest import Factory, app_config
from .test_energy import add_energy

release = threading.Event()
seen: list[str] = []


def held_job(label: str) -> None:
    """A job that waits until the test lets it go, then records that it ran and where."""
    release.wait(timeout=60)
    seen.append(f"{label}:{threading.current_thread().name}")


@pytest.fixture
def thread_app(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"  # committed data, visible to the worker
    app = create_app(app_config(url, str(tmp_path), JOB_QUEUE="thread"))
    with app.app_context(), write_intent():
        upgrade(revision="heads")
    yield app
    jobs.wait_idle(app)
    with app.app_context():
        db.engine.dispose()


def test_a_job_starts_after_its_request_committed_and_never_holds_it(thread_app):
    release.clear()
    seen.clear()
    with thread_app.test_request_context("/"):
        jobs.submit(held_job, "kept")
        assert seen == []  # not started before the request committed
        jobs.start_pending()
    with thread_app.test_request_context("/"):
        jobs.submit(held_job, "dropped")
        jobs.drop_pending()  # the request rolled back
    assert seen == []  # the request returned while the job waits in the worker
    release.set()
    jobs.wait_idle(thread_app)
    assert seen == ["kept:matchmaker-job_0"]


def test_a_matching_run_returns_at_once_and_the_page_polls_it_to_the_end(thread_app):
    with thread_app.app_context(), write_intent():
        make = Factory()
        producer = make.site(make.organisation(), x=233000, y=556000)
        consumer = make.site(make.organisation(), x=233200, y=556000)
        add_energy(producer, pv_kwp=100, use_kwh=10_000)
        add_energy(consumer, use_kwh=40_000)
        email = make.user(Role.COORDINATOR).email
        db.session.commit()
    client = thread_app.test_client()
    client.post("/login", data={"email": email, "password": "Zonnedak-Assen-42"})
    response = client.post("/coordinator/energy/runs", data={"mode": "annual",
                                                             "max_distance_m": "500"})
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    jobs.wait_idle(thread_app)
    status = client.get(f"/coordinator/energy/runs/{run_id}/status.json").get_json()
    assert status == {"status": "done", "progress": 1.0, "stage": "klaar"}
    with thread_app.app_context():
        run = db.session.get(MatchRun, run_id)
        assert run.status == RunStatus.DONE and run.matched_kwh == pytest.approx(40_000)
