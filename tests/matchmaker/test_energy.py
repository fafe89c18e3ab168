"""Energy data per site, matching runs as jobs, and matches explained to members."""

import io

import numpy as np
import pandas as pd
import pytest

from geo import match_solve, match_whatif, matching
from geo.crs import rd_to_wgs84
from geo.match_problem import build_problem
from geo.matching import marginal_gain
from geo.profiles import hourly_index, pv_profile
from matchmaker.auth.models import Role
from matchmaker.energy import explain, services, site_profiles
from matchmaker.energy.models import AssetKind, EnergyAsset, MatchRun, ProfileSource, RunStatus
from matchmaker.extensions import db
from matchmaker.web.formatting import number


def add_energy(site, *, pv_kwp=None, use_kwh=None, share_name=False, category="g1"):
    if pv_kwp:
        db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.PV, capacity_kw=pv_kwp,
                                   annual_kwh=pv_kwp * 875, share_name=share_name))
    if use_kwh:
        db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION,
                                   annual_kwh=use_kwh, profile_category=category,
                                   share_name=share_name))
    db.session.flush()


@pytest.fixture
def neighbours(make):
    """A producer with a surplus, two consumers near it, and one consumer far away."""
    producer = make.site(make.organisation("Zon BV"), x=233000, y=556000)
    near = make.site(make.organisation("Buur BV"), x=233300, y=556000)
    nearer = make.site(make.organisation("Naast BV"), x=233100, y=556000)
    far = make.site(make.organisation("Ver BV"), x=240000, y=556000)
    add_energy(producer, pv_kwp=200, use_kwh=20_000, share_name=True)  # 175 MWh PV, 20 MWh use
    add_energy(near, use_kwh=100_000, share_name=True)
    add_energy(nearer, use_kwh=30_000)
    add_energy(far, use_kwh=500_000)
    return {"producer": producer, "near": near, "nearer": nearer, "far": far}


def test_member_enters_pv_and_use(client, make, auth):
    user = make.user(Role.MEMBER)
    site = make.site(user.organisation, flat_roof_area_m2=1000)
    auth.login(user)
    response = client.post(f"/sites/{site.id}/energy", data={
        "pv_planned": "y", "annual_use_kwh": "45.000", "profile_category": "g1",
        "share_name": "y"})
    assert response.status_code == 302
    pv = services.asset(site, AssetKind.PV)
    use = services.asset(site, AssetKind.CONSUMPTION)
    assert pv.capacity_kw == 150.0 and pv.planned  # 1000 m² × 0.15 kWp/m²
    assert pv.annual_kwh == 150 * 875
    assert use.annual_kwh == 45_000 and use.profile_category == "g1"
    assert pv.source == use.source == ProfileSource.ESTIMATED
    bad = client.post(f"/sites/{site.id}/energy", data={"pv_kwp": "-5", "profile_category": "g1"})
    assert bad.status_code == 400 and 'id="pv_kwp-error"' in bad.get_data(as_text=True)


def meter_csv(rows):
    return ("timestamp;kwh\n" + "".join(f"{t:%Y-%m-%d %H:%M};{v}\n" for t, v in rows)).encode()


def test_meter_data_upload_makes_the_profile_measured(client, make, auth, text_of):
    user = make.user(Role.MEMBER)
    site = make.site(user.organisation)
    auth.login(user)
    hours = hourly_index().tz_localize(None)
    data = meter_csv((t, "1,5") for t in hours)
    response = client.post(f"/sites/{site.id}/energy/meter", data={
        "kind": "consumption", "file": (io.BytesIO(data), "meter.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)
    use = services.asset(site, AssetKind.CONSUMPTION)
    assert use.source == ProfileSource.MEASURED
    assert use.annual_kwh == pytest.approx(8760 * 1.5, rel=1e-6)
    assert use.hourly.shape == (8760,)

    broken = meter_csv([(hours[0], "1"), (hours[1], "-2")])
    response = client.post(f"/sites/{site.id}/energy/meter", data={
        "kind": "consumption", "file": (io.BytesIO(broken), "kapot.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 400 and "kapot.csv" in text_of(response)
    db.session.refresh(use)
    assert use.annual_kwh == pytest.approx(8760 * 1.5, rel=1e-6)  # unchanged


def test_the_example_meter_file_is_accepted_and_the_page_says_what_a_file_covers(
        client, make, auth, text_of):
    user = make.user(Role.MEMBER)
    site = make.site(user.organisation)
    auth.login(user)
    page = text_of(client.get(f"/sites/{site.id}/energy"))
    assert "elke maand" in page and "15 minuten of per uur" in page
    example = client.get("/energy/meter-example.csv").data
    response = client.post(f"/sites/{site.id}/energy/meter", data={
        "kind": "consumption", "file": (io.BytesIO(example), "meterdata.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)
    use = services.asset(site, AssetKind.CONSUMPTION)
    assert use.source == ProfileSource.MEASURED and use.annual_kwh > 20_000


def run_match(client, mode, distance="1000"):
    response = client.post("/coordinator/energy/runs", data={"mode": mode,
                                                             "max_distance_m": distance})
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(MatchRun, run_id)


def test_annual_run_is_optimal_certified_and_respects_the_distance(client, make, auth,
                                                                   neighbours, text_of):
    auth.login(make.user(Role.COORDINATOR))
    run = run_match(client, "annual")
    assert run.status == RunStatus.DONE and run.certificate["ok"]
    surplus = 200 * 875 - 20_000  # 155 MWh: all of it fits the near consumers (130 MWh)
    pairs = {(m.producer_site_id, m.consumer_site_id): m.kwh for m in run.matches}
    producer, near, nearer = (neighbours[k].id for k in ("producer", "near", "nearer"))
    # The nearest consumer is filled first; the far one is out of reach.
    assert pairs == {(producer, nearer): pytest.approx(30_000), (producer, near):
                     pytest.approx(100_000)}
    assert run.matched_kwh == pytest.approx(130_000) and run.surplus_kwh == pytest.approx(surplus)
    page = text_of(client.get(f"/coordinator/energy/runs/{run.id}"))
    assert "130.000 kWh" in page and run.certificate["kind"] == "exact"
    assert run.certificate["matched_wh"] == run.certificate["cut_wh"] == 130_000_000
    assert run.certificate["cost"] == run.certificate["dual_cost"]
    assert run.certificate["cross_check"] is None and "HiGHS" not in page
    table = client.get(f"/coordinator/energy/runs/{run.id}.csv").get_data(as_text=True)
    assert "Zon BV;" in table and "100000" in table.replace(".", "")
    lines = client.get(f"/coordinator/energy/runs/{run.id}.geojson").get_json(force=True)
    assert {f["geometry"]["type"] for f in lines["features"]} == {"LineString"}


def test_typical_day_run_shows_changes_and_hours(client, make, auth, neighbours, text_of):
    auth.login(make.user(Role.COORDINATOR))
    first = run_match(client, "annual")
    second = run_match(client, "typical_day")
    assert second.status == RunStatus.DONE and second.certificate["ok"]
    assert second.certificate["steps_checked"] == second.certificate["steps_total"] == 288
    # PV cannot serve the night: with hours, less is matched than the yearly balance suggests.
    assert second.matched_kwh < first.matched_kwh
    for match in second.matches:
        assert match.by_hour[2] == 0 and max(match.by_hour[10:15]) > 0
    page = text_of(client.get(f"/coordinator/energy/runs/{second.id}"))
    assert "Wijzigingen sinds run" in page and "typische dag per maand" in page
    runs = text_of(client.get("/coordinator/energy"))  # time steps and status in Dutch
    assert "jaarhoeveelheden" in runs and "klaar" in runs and "typical_day" not in runs


def test_a_run_reports_its_stages_in_order_and_its_progress_step_by_step(app, client, make,
                                                                          neighbours):
    # A second producer among the consumers: a component for the network solver, not a star.
    add_energy(make.site(make.organisation("Dak BV"), x=233200, y=556050), pv_kwp=100)
    run = services.start_run(actor=make.user(Role.COORDINATOR), mode="typical_day",
                             max_distance_m=1000)
    seen = []
    app.config["MATCH_CROSS_CHECK_STEPS"] = 3
    services.compute_run(run, lambda stage, share: seen.append((stage, share)))
    assert list(dict.fromkeys(stage for stage, _ in seen)) == [
        "profiles", "solving", "certifying", "explaining", "saving"]
    assert run.explained and len(run.what_ifs) == 5  # every site with energy data
    # The exact certificate on every step, HiGHS on a random sample whose seed is kept.
    cross = run.certificate["cross_check"]
    assert run.certificate["ok"] and cross["ok"] and len(cross["steps"]) == 3
    assert isinstance(cross["seed"], int)
    shares = [share for _, share in seen]
    assert shares == sorted(shares) and 0 <= shares[0] and shares[-1] <= 1
    # Every solved step and every certified step moves the bar, and so does the explaining.
    assert sum(stage == "solving" for stage, _ in seen) > 50
    assert sum(stage == "certifying" for stage, _ in seen) >= 3
    assert sum(stage == "explaining" for stage, _ in seen) >= 2


def test_members_read_their_matches_with_names_only_by_mutual_consent(app, make, auth,
                                                                      neighbours, text_of):
    coordinator = app.test_client()
    coordinator.post("/login", data={"email": make.user(Role.COORDINATOR).email,
                                     "password": "Zonnedak-Assen-42"})
    run_match(coordinator, "typical_day")
    producer_member = make.user(Role.MEMBER, organisation=neighbours["producer"].organisation)
    auth.login(producer_member)
    page = text_of(auth.client.get("/energy/matches"))
    assert "Buur BV" in page  # both agreed to be named
    assert "Naast BV" not in page and "een bedrijf op 100 m" in page  # Naast did not agree
    assert "10 kWp" in page  # what an extra 10 kWp would add


def what_if_by_solving(run, site_id):
    """The oracle: the site's component solved again with 10 kWp more PV, and with 10 % of its
    use moved to 10:00-16:00, on the sites' current data (unchanged since the run)."""
    energy = site_profiles.site_energy(run.mode)
    producers, surplus = energy.producers()
    consumers, deficit = energy.consumers()
    key = str(site_id)
    row = energy.sites[energy.sites["id"] == key]
    if key not in set(producers["id"]):  # a site joins the side it is not on with nothing
        producers = pd.concat([producers, row], ignore_index=True)
        surplus = np.vstack([surplus, np.zeros((1, surplus.shape[1]))])
    if key not in set(consumers["id"]):
        consumers = pd.concat([consumers, row], ignore_index=True)
        deficit = np.vstack([deficit, np.zeros((1, deficit.shape[1]))])
    problem = build_problem(
        producers[["id", "feed_in_kw", "geometry"]].assign(surplus_kwh=surplus.sum(axis=1)),
        consumers[["id", "geometry"]].assign(demand_kwh=deficit.sum(axis=1)),
        max_distance_m=run.max_distance_m, mode=run.mode, producer_profile=surplus,
        consumer_profile=deficit, weights=energy.weights)
    x, y = row.geometry.x.iloc[0], row.geometry.y.iloc[0]
    lon, lat = rd_to_wgs84([x], [y])
    extra = pv_profile(lon=lon[0], lat=lat[0], kwp=10, mode=run.mode).values
    pv = marginal_gain(problem, producer_id=key, extra_kwh=extra)
    use = energy.use[int(np.flatnonzero(energy.sites["id"] == key)[0])]
    day = np.isin(np.tile(np.arange(24), 12), range(10, 16)).astype(float)
    day *= 0.1 * float(use @ energy.weights) / float(day @ energy.weights)
    return pv, marginal_gain(problem, consumer_id=key, extra_kwh=day)


def test_the_members_page_serves_what_ifs_stored_with_the_run_and_solves_nothing(
        app, make, auth, neighbours, text_of, monkeypatch):
    coordinator = app.test_client()
    coordinator.post("/login", data={"email": make.user(Role.COORDINATOR).email,
                                     "password": "Zonnedak-Assen-42"})
    run = run_match(coordinator, "typical_day")
    assert run.explained
    stored = {w.site_id: w for w in run.what_ifs}
    # The page reads storage only: any solve during the view fails the test.
    def no_solving(*args, **kwargs):
        raise AssertionError("the members' page solved a matching")
    for module, name in ((match_solve, "solve"), (matching, "solve"),
                         (matching, "marginal_gain"), (match_whatif, "matched_gains"),
                         (explain, "matched_gains"), (explain, "compute_what_ifs")):
        monkeypatch.setattr(module, name, no_solving)
    pages = {}
    for key in ("producer", "near"):
        auth.login(make.user(Role.MEMBER, organisation=neighbours[key].organisation))
        pages[key] = text_of(auth.client.get("/energy/matches"))
        auth.logout()
    monkeypatch.undo()
    for key in ("producer", "near"):
        pv, shift = what_if_by_solving(run, neighbours[key].id)
        assert stored[neighbours[key].id].extra_pv_kwh == pytest.approx(pv, abs=1e-3)
        assert stored[neighbours[key].id].shift_kwh == pytest.approx(shift, abs=1e-3)
        with app.test_request_context(headers={"Accept-Language": "nl"}):
            shown = [number(pv, 0), number(shift, 0)]
        assert f"meer zonnestroom kunnen buren {shown[0]} kWh per jaar" in pages[key]
        assert f"komt er {shown[1]} kWh lokale energie per jaar bij" in pages[key]
    # Not all zero: extra PV at the producer and use moved to noon at the consumer both help.
    assert stored[neighbours["producer"].id].extra_pv_kwh > 0
    assert stored[neighbours["near"].id].shift_kwh > 0


def test_a_run_from_before_stored_what_ifs_shows_matches_and_asks_for_a_new_run(
        app, make, auth, neighbours, text_of):
    coordinator = app.test_client()
    coordinator.post("/login", data={"email": make.user(Role.COORDINATOR).email,
                                     "password": "Zonnedak-Assen-42"})
    run = run_match(coordinator, "annual")
    run.what_ifs.clear()  # as the migration leaves a run made before
    run.explained = False
    db.session.commit()
    auth.login(make.user(Role.MEMBER, organisation=neighbours["producer"].organisation))
    page = text_of(auth.client.get("/energy/matches"))
    assert "Buur BV" in page  # the matches are there
    assert "Wat zou helpen" not in page and "koppeling opnieuw te laten berekenen" in page


def test_runs_go_through_the_redis_queue_when_configured(tmp_path, monkeypatch):
    """With a queue configured the request only queues the run; a worker does the work."""
    from flask_migrate import upgrade
    from redis import Redis
    from rq import Queue, SimpleWorker

    from matchmaker import create_app
    from matchmaker.database import write_intent

    from .conftest import Factory, app_config

    url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"  # committed data, visible to the worker
    redis_url = "redis://127.0.0.1:6379/15"
    app = create_app(app_config(url, str(tmp_path), JOB_QUEUE="rq", REDIS_URL=redis_url))
    with app.app_context(), write_intent():
        upgrade(revision="heads")
        make = Factory()
        producer = make.site(make.organisation(), x=233000, y=556000)
        consumer = make.site(make.organisation(), x=233200, y=556000)
        add_energy(producer, pv_kwp=100, use_kwh=10_000)
        add_energy(consumer, use_kwh=40_000)
        coordinator = make.user(Role.COORDINATOR)
        db.session.commit()
        email = coordinator.email
    redis = Redis.from_url(redis_url)
    queue = Queue("matchmaker", connection=redis)
    queue.empty()
    try:
        client = app.test_client()
        client.post("/login", data={"email": email, "password": "Zonnedak-Assen-42"})
        response = client.post("/coordinator/energy/runs", data={"mode": "annual",
                                                                 "max_distance_m": "500"})
        run_id = int(response.headers["Location"].rsplit("/", 1)[1])
        status = client.get(f"/coordinator/energy/runs/{run_id}/status.json").get_json()
        assert status["status"] == "queued" and queue.count == 1
        assert status["stage"] == "wacht op een rekenproces"
        assert "wacht op een rekenproces" in client.get(
            f"/coordinator/energy/runs/{run_id}").get_data(as_text=True)
        monkeypatch.setenv("DATABASE_URL", url)  # the worker builds its own app
        SimpleWorker([queue], connection=redis).work(burst=True)
        status = client.get(f"/coordinator/energy/runs/{run_id}/status.json").get_json()
        assert status == {"status": "done", "progress": 1.0, "stage": "klaar"}
        with app.app_context():
            run = db.session.get(MatchRun, run_id)
            assert run.matched_kwh == pytest.approx(40_000)
            db.session.remove()
            db.engine.dispose()
    finally:
        queue.empty()
        redis.close()
