"""Province-scale demo data: the town demo plus Drenthe's towns, reproducibly, in bulk.

``matchmaker demo --scale province`` loads the Assen demo (accounts, group buys, fibre check,
energy run) and then adds, around eleven more towns of Drenthe, kringen and business parks and
enough register addresses, organisations, sites and demand to reach the design size of the
province (DESIGN.md section 5): about 20,000 organisations, 50,000 sites, 120,000 demand rows
and 60,000 register addresses, with member accounts, energy data, open group buys with their
participations (opened without queuing the invitation e-mails), a province-wide fibre check
and its 14-day history in proportion.

Seeded (numpy's PCG64): the same seed gives the same rows. The bulk rows go in with multi-row
INSERTs (SQLAlchemy's insertmanyvalues), not the ORM row by row, so PostgreSQL builds it in a
few minutes. It is data for measuring (``benchmarks/web.py``) and trying out, never for
production: the accounts are demo accounts, which log in only in demo mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon, box

from matchmaker.auth.models import Role, User
from matchmaker.demand.models import Demand, Product, ProviderConsent, Stage
from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.extensions import db
from matchmaker.members.models import LegalForm, LocationSource, Organisation, Site, Tenure
from matchmaker.models import utcnow
from matchmaker.register.models import AddressRecord, Area, AreaKind

PROVINCE_SEED = 20261204
#: The design size of the province (DESIGN.md section 5), the town demo included.
TARGETS = {"organisations": 20_000, "sites": 50_000, "demand": 120_000, "addresses": 60_000}
CHUNK = 5_000
#: Share of the new register addresses that lie on business parks (the rest: town centres).
PARK_SHARE = 0.7


@dataclass(frozen=True)
class Town:
    name: str
    gemeente: str  # CBS municipality code: the first four digits of its BAG ids
    x: float  # centre, RD New
    y: float
    pc4: int  # first postcode area
    weight: float  # share of the province's companies


# Drenthe's larger towns (centres rounded to 100 m); Assen continues the town demo.
TOWNS = (
    Town("Assen", "0106", 233900, 556800, 9400, 1.4),
    Town("Emmen", "0114", 256600, 532000, 7811, 2.0),
    Town("Hoogeveen", "0118", 232400, 527700, 7901, 1.6),
    Town("Meppel", "0119", 209000, 522500, 7941, 1.2),
    Town("Coevorden", "0109", 249400, 516900, 7741, 0.7),
    Town("Beilen", "1731", 233600, 541300, 9411, 0.6),
    Town("Roden", "1699", 223000, 569500, 9301, 0.7),
    Town("Borger", "1681", 252000, 549800, 9531, 0.4),
    Town("Zuidlaren", "1730", 238000, 571000, 9471, 0.5),
    Town("Gieten", "1680", 244000, 558000, 9461, 0.4),
    Town("Klazienaveen", "0114", 262300, 527800, 7891, 0.6),
    Town("Westerbork", "1731", 240200, 545800, 9431, 0.3),
)
PARK_NAMES = ("Bedrijvenpark Noord", "Industrieterrein Zuid", "Bedrijventerrein Oost",
              "Handelspark West")
STREETS = ("Industrieweg", "Handelsweg", "Ambachtsweg", "Nijverheidsweg", "Transportweg",
           "Energieweg", "Zuiderweg", "Edisonstraat", "Newtonstraat", "Morsestraat",
           "Marconistraat", "Dr. A.F. Philipsweg", "Kanaalweg", "Havenstraat", "Stationsweg")
TOWN_STREETS = ("Hoofdstraat", "Kerkstraat", "Markt", "Molenstraat", "Brink", "Dorpsstraat",
                "Schoolstraat", "Julianastraat", "Wilhelminastraat", "Stationsstraat")
BUSINESS_USES = ("industriefunctie", "kantoorfunctie", "winkelfunctie", "bijeenkomstfunctie",
                 "overige gebruiksfunctie", "industriefunctie,kantoorfunctie")
FIRST = ("Drentse", "Noordelijke", "Hunze", "Brink", "Van der Veen", "De Vries", "Bakker",
         "Mulder", "Zwiers", "Oosting", "Hofstede", "Bos", "Kuipers", "Meijer", "Smit", "Boer",
         "Hemmes", "Lubbers", "Wolters", "Kremer")
SECOND = ("Metaalbewerking", "Transport", "Installatietechniek", "Bouw", "Accountants",
          "Drukkerij", "Logistiek", "Autoschade", "Houtbewerking", "ICT", "Koeltechniek",
          "Groothandel", "Bakkerij", "Elektro", "Schilders", "Advies", "Verpakkingen",
          "Machinebouw", "Dakwerken", "Catering")
LABELS = np.array(["A+", "A", "B", "C", "D", "E", "F", "G"])
LABEL_P = np.array([3, 8, 10, 18, 16, 14, 12, 9]) / 90
CONNECTIONS = np.array(["3x25A", "3x35A", "3x63A", "3x80A", "3x125A", "160 kVA", "250 kVA"])
#: Letter pairs of Dutch postcodes (SA, SD and SS are not used).
LETTER_PAIRS = [a + b for a in "ABCDEFGHIJKLMNOPRTUVWXYZ" for b in "ABCDEFGHIJKLMNOPRSTUVWXYZ"
                if a + b not in ("SA", "SD", "SS")]
#: Register addresses per postcode (both sides of a street stretch).
PER_POSTCODE = 24


def _chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    """Multi-row INSERTs on the table (Core: no ORM bookkeeping per row)."""
    for chunk in _chunks(rows):
        db.session.execute(sa.insert(model.__table__), chunk)


def _insert_ids(model: Any, rows: list[dict[str, Any]]) -> np.ndarray:
    """Insert ``rows`` with ids numbered on from the highest one; returns them in order.

    Explicit ids (instead of RETURNING) keep the multi-row INSERTs fast and the ids the same
    in every build; PostgreSQL's sequence is moved past them afterwards."""
    start = int(db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1
    ids = np.arange(start, start + len(rows), dtype=np.int64)
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = int(new_id)
    _insert(model, rows)
    if db.session.get_bind().dialect.name == "postgresql":
        table = model.__tablename__
        db.session.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT max(id) FROM {table}))"))
    return ids


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def province_loaded() -> bool:
    return db.session.scalar(sa.select(Area.id).where(
        Area.kind == AreaKind.KRING, Area.name == f"Kring {TOWNS[1].name}")) is not None


def province_areas(rng: np.random.Generator) -> tuple[dict[str, Area], list[tuple[Area, Town]]]:
    """A kring per town outside Assen (a 9 km square) and 2–4 parks per town (Assen keeps the
    demo's four)."""
    kringen: dict[str, Area] = {}
    parks: list[tuple[Area, Town]] = []
    for town in TOWNS[1:]:
        kring = Area(name=f"Kring {town.name}", kind=AreaKind.KRING)
        kring.geometry = box(town.x - 4500, town.y - 4500, town.x + 4500, town.y + 4500)
        db.session.add(kring)
        kringen[town.name] = kring
        for k in range(int(rng.integers(2, 5))):
            angle = k * np.pi / 2 + rng.uniform(-0.4, 0.4)
            cx = town.x + 1800 * np.cos(angle)
            cy = town.y + 1800 * np.sin(angle)
            w, h = rng.uniform(500, 800), rng.uniform(400, 700)
            park = Area(name=f"{PARK_NAMES[k]} {town.name}", kind=AreaKind.PARK)
            park.geometry = Polygon([(cx - w, cy - h), (cx + w, cy - h + rng.uniform(-60, 60)),
                                     (cx + w, cy + h), (cx - w, cy + h)])
            db.session.add(park)
            parks.append((park, town))
    db.session.flush()
    return kringen, parks


def _addresses(rng: np.random.Generator, count: int, parks: list[tuple[Area, Town]]
               ) -> dict[str, np.ndarray]:
    """``count`` register addresses: on the parks (business uses) and in the town centres
    (mixed with homes), postcodes unique per town, 16-digit BAG ids per municipality."""
    weights = np.array([t.weight for t in TOWNS])
    on_park = rng.random(count) < PARK_SHARE
    park_index = rng.integers(0, len(parks), count)
    town_index = rng.choice(len(TOWNS), count, p=weights / weights.sum())
    town_index = np.where(on_park, [TOWNS.index(parks[i][1]) for i in park_index], town_index)
    x = np.empty(count)
    y = np.empty(count)
    bounds = np.array([p.geometry.bounds for p, _ in parks])
    for i in range(len(parks)):
        here = on_park & (park_index == i)
        x[here] = rng.uniform(bounds[i, 0], bounds[i, 2], here.sum())
        y[here] = rng.uniform(bounds[i, 1], bounds[i, 3], here.sum())
    centres = np.array([(t.x, t.y) for t in TOWNS])
    spread = rng.normal(0, 1100, (count, 2))
    x = np.where(on_park, x, centres[town_index, 0] + spread[:, 0])
    y = np.where(on_park, y, centres[town_index, 1] + spread[:, 1])
    # Order addresses along streets: per town, by park/centre and then west to east.
    order = np.lexsort((x, np.where(on_park, park_index, -1), town_index))
    x, y, town_index, on_park = x[order], y[order], town_index[order], on_park[order]
    use = np.where(on_park, rng.choice(BUSINESS_USES, count, p=[.3, .25, .1, .05, .1, .2]),
                   rng.choice(["woonfunctie", "kantoorfunctie", "winkelfunctie",
                               "woonfunctie,winkelfunctie"], count, p=[.55, .2, .17, .08]))
    postcode = np.empty(count, dtype=object)
    number = np.empty(count, dtype=np.int64)
    street = np.empty(count, dtype=object)
    bag = np.empty(count, dtype=object)
    for t, town in enumerate(TOWNS):
        idx = np.flatnonzero(town_index == t)
        k = np.arange(len(idx))
        block = k // PER_POSTCODE
        # Assen's postcode areas 9400–9409 are the town demo's; the province starts at 9410.
        pc4 = town.pc4 + (10 if town.name == "Assen" else 0) + block // len(LETTER_PAIRS)
        letters = np.array(LETTER_PAIRS)[block % len(LETTER_PAIRS)]
        postcode[idx] = [f"{p} {ltr}" for p, ltr in zip(pc4, letters, strict=True)]
        number[idx] = k % PER_POSTCODE + 1 + (block % 7) * 40
        street[idx] = np.where(on_park[idx], np.array(STREETS)[block % len(STREETS)],
                               np.array(TOWN_STREETS)[block % len(TOWN_STREETS)])
        bag[idx] = [f"{town.gemeente}01{5_000_000 + t * 1_000_000 + j:010d}" for j in k]
    return {"id": bag, "postcode": postcode, "house_number": number, "street": street,
            "city": np.array([TOWNS[t].name for t in town_index], dtype=object),
            "use": use, "x": np.round(x, 2), "y": np.round(y, 2), "town": town_index}


def _sample_exactly(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct indices drawn with probability ∝ ``weights`` (Efraimidis–Spirakis keys:
    vectorised, exact count)."""
    keys = np.log(rng.random(len(weights))) / np.maximum(weights, 1e-12)
    return np.sort(np.argpartition(-keys, k - 1)[:k])


def load_province(*, seed: int = PROVINCE_SEED, targets: dict[str, int] | None = None,
                  echo: Any = None) -> dict[str, int]:
    """Add the province to a database that holds the town demo; returns the totals.

    ``targets`` (default ``TARGETS``) are the totals to reach, the town included; the tests
    build a small province with the same code."""
    targets = {**TARGETS, **(targets or {})}
    say = echo or (lambda _message: None)
    rng = np.random.default_rng(seed)
    now = utcnow()
    kringen, parks = province_areas(rng)
    products = {p.code: p for p in db.session.scalars(sa.select(Product))}

    # --- register addresses
    need = {name: max(targets[name] - _count(model), 0) for name, model in (
        ("addresses", AddressRecord), ("organisations", Organisation), ("sites", Site),
        ("demand", Demand))}
    addr = _addresses(rng, need["addresses"], parks)
    _insert(AddressRecord, [
        {"id": addr["id"][i], "postcode": addr["postcode"][i],
         "house_number": int(addr["house_number"][i]), "addition": "",
         "street": addr["street"][i], "city": addr["city"][i], "use": addr["use"][i],
         "x": float(addr["x"][i]), "y": float(addr["y"][i]), "imported_at": now}
        for i in range(need["addresses"])])
    say(f"addresses: {need['addresses']}")

    # --- organisations with a member account each
    n_org = need["organisations"]
    business = np.flatnonzero(~np.char.startswith(addr["use"].astype(str), "woon"))
    site_addr = rng.permutation(business)[:need["sites"]]
    if len(site_addr) < need["sites"]:  # not enough business addresses: homes with a business
        rest = np.setdiff1d(np.arange(need["addresses"]), site_addr)
        site_addr = np.concatenate([site_addr, rng.permutation(rest)[:need["sites"]
                                                                     - len(site_addr)]])
    head_addr = site_addr[:n_org]  # each organisation's first site
    legal = rng.choice([f.value for f in (LegalForm.BV, LegalForm.VOF, LegalForm.SOLE_TRADER,
                                          LegalForm.FOUNDATION, LegalForm.COOPERATIVE)],
                       n_org, p=[.7, .12, .12, .04, .02])
    first, second = rng.integers(0, len(FIRST), n_org), rng.integers(0, len(SECOND), n_org)
    kring_ids = {t: (kringen[TOWNS[t].name].id if TOWNS[t].name in kringen else None)
                 for t in range(len(TOWNS))}
    assen_outside = db.session.scalar(sa.select(Area.id).where(
        Area.kind == AreaKind.KRING, Area.name == "Buiten de bedrijventerreinen"))
    org_rows = []
    for i in range(n_org):
        a = head_addr[i]
        town = int(addr["town"][a])
        name = f"{FIRST[first[i]]} {SECOND[second[i]]} {addr['city'][a]} {i + 1}"
        org_rows.append({
            "name": name + {"bv": " B.V.", "vof": " V.O.F."}.get(str(legal[i]), ""),
            "kvk_number": f"{60_000_000 + i:08d}", "legal_form": LegalForm(legal[i]),
            "kring_id": kring_ids[town] if kring_ids[town] is not None else assen_outside,
            "contact_name": "Demo", "contact_email": f"info{i + 1}@province.demo.example",
            "contact_phone": f"0{rng.integers(500, 599)}-{rng.integers(200000, 999999)}",
            "created_at": now, "updated_at": now,
        })
    org_ids = _insert_ids(Organisation, org_rows)
    _insert(User, [{"email": f"lid{i + 1}@province.demo.example", "name": "Demo",
                    "password_hash": "!demo-contact", "role": Role.MEMBER,
                    "organisation_id": int(org_ids[i]), "is_demo": True,
                    "locale": "en" if i % 10 == 0 else "nl", "created_at": now,
                    "updated_at": now} for i in range(n_org)])
    say(f"organisations and accounts: {n_org}")

    # --- sites: one per organisation, the rest to chains (lognormal sizes, at most ~60)
    extra = need["sites"] - n_org
    chain_weight = np.minimum(rng.lognormal(0, 1.3, n_org), 60)
    owner = np.concatenate([np.arange(n_org),
                            rng.choice(n_org, extra, p=chain_weight / chain_weight.sum())])
    n_site = len(site_addr)
    floor = rng.choice([250, 400, 600, 900, 1200, 1800, 2500, 4000, 6500], n_site).astype(float)
    office = np.round(floor * rng.choice([.1, .2, .3, .6, .8, 1.0], n_site))
    roof = np.where(rng.random(n_site) < 0.8, np.round(floor * rng.uniform(.3, .9, n_site)),
                    np.nan)
    label = np.where(rng.random(n_site) < 0.85, rng.choice(LABELS, n_site, p=LABEL_P), None)
    tenant = rng.random(n_site) < 0.25
    grid = rng.choice(CONNECTIONS, n_site)
    year = rng.integers(1965, 2023, n_site)
    site_rows = []
    for s in range(n_site):
        a = site_addr[s]
        site_rows.append({
            "organisation_id": int(org_ids[owner[s]]), "label": "" if s < n_org else "Vestiging",
            "postcode": addr["postcode"][a], "house_number": int(addr["house_number"][a]),
            "addition": "", "street": addr["street"][a], "city": addr["city"][a],
            "bag_id": addr["id"][a], "x": float(addr["x"][a]), "y": float(addr["y"][a]),
            "location_source": LocationSource.REGISTER, "floor_area_m2": float(floor[s]),
            "office_area_m2": float(office[s]),
            "flat_roof_area_m2": None if np.isnan(roof[s]) else float(roof[s]),
            "energy_label": label[s], "year_built": int(year[s]),
            "tenure": Tenure.TENANT if tenant[s] else Tenure.OWNER,
            "grid_connection": str(grid[s]), "created_at": now, "updated_at": now,
        })
    site_ids = _insert_ids(Site, site_rows)
    say(f"sites: {n_site}")

    # --- demand: exactly the number needed, products weighted as in the town
    codes = ["solar_roof", "insulation", "fibre", "shared_heat"]
    base = np.array([0.8, 0.65, 0.62, 0.3])
    weights = np.tile(base, n_site) * np.repeat(np.ones(n_site), 4)
    weights[0::4] *= ~np.isnan(roof)  # solar only on a flat roof
    pick = _sample_exactly(rng, weights, need["demand"])
    site_of, product_of = pick // 4, pick % 4
    stage = rng.choice([Stage.INTEREST.value, Stage.COMMITTED.value, Stage.WITHDRAWN.value],
                       len(pick), p=[.7, .24, .06])
    kwp = np.round(np.nan_to_num(roof) * 0.15, 1)
    heat = rng.choice([60, 120, 250, 400, 800], len(pick))
    quantity = np.select([product_of == 0, product_of == 1, product_of == 2],
                         [np.maximum(kwp[site_of], 1.0), np.round(floor[site_of] * 0.5), 1.0],
                         heat.astype(float))
    consent = (product_of == 2) & (rng.random(len(pick)) < 0.15)
    demand_ids = _insert_ids(Demand, [
        {"site_id": int(site_ids[site_of[d]]), "product_id": products[codes[product_of[d]]].id,
         "quantity": Decimal(str(quantity[d])), "stage": Stage(stage[d]),
         "consent_providers": bool(consent[d]), "note": "", "version": 1,
         "created_at": now, "updated_at": now}
        for d in range(len(pick))])
    provider = db.session.scalar(sa.select(User).where(User.email == "aanbieder@demo.example"))
    if provider is not None:
        _insert(ProviderConsent, [{"demand_id": int(demand_ids[d]), "provider_id": provider.id,
                                   "granted_at": now} for d in np.flatnonzero(consent)])
    say(f"demand: {len(pick)}")

    # --- energy: electricity use for most sites, PV on a third of the flat roofs
    uses = rng.random(n_site) < 0.85
    pv = ~np.isnan(roof) & (rng.random(n_site) < 0.35)
    pv_kwp = np.round(np.nan_to_num(roof) * 0.15 * rng.uniform(.5, 1, n_site), 1)
    def asset(s: int, kind: AssetKind, kwh: float, kwp: float | None) -> dict[str, Any]:
        return {"site_id": int(site_ids[s]), "kind": kind, "annual_kwh": kwh,
                "capacity_kw": kwp, "tilt_deg": 15.0 if kwp else None,
                "azimuth_deg": 180.0 if kwp else None,
                "profile_category": ("g1", "g0", "g3")[s % 3], "share_name": bool(s % 2),
                "created_at": now, "updated_at": now}

    energy = [asset(s, AssetKind.CONSUMPTION,
                    float(round(floor[s] * 40 * rng.uniform(.6, 1.4), -2)), None)
              for s in np.flatnonzero(uses)]
    energy += [asset(s, AssetKind.PV, float(max(pv_kwp[s], 1.0) * 875),
                     float(max(pv_kwp[s], 1.0))) for s in np.flatnonzero(pv)]
    _insert(EnergyAsset, energy)
    say(f"energy assets: {len(energy)}")

    site_frame = {"id": site_ids, "x": addr["x"][site_addr], "y": addr["y"][site_addr],
                  "organisation_id": org_ids[owner]}
    campaigns = _province_campaigns(rng, parks, site_frame, site_of, product_of, quantity,
                                    stage, codes, products)
    fibre_units = _province_fibre(rng, parks, site_frame, site_of, product_of, stage,
                                  demand_ids, org_ids[owner], addr["id"][site_addr])
    db.session.flush()
    # Fresh planner statistics after a bulk load, as after any restore: without them the
    # planner takes these tables for the few rows they had (autovacuum may be off, or late).
    db.session.execute(sa.text("ANALYZE"))
    return {"organisations": _count(Organisation), "sites": _count(Site),
            "demand": _count(Demand), "addresses": _count(AddressRecord),
            "users": _count(User), "energy_assets": _count(EnergyAsset),
            "campaigns": campaigns, "fibre_snapshot_units": fibre_units,
            "areas": _count(Area)}


def _province_campaigns(rng: np.random.Generator, parks: list[tuple[Area, Town]],
                        sites: dict[str, np.ndarray], site_of: np.ndarray,
                        product_of: np.ndarray, quantity: np.ndarray, stage: np.ndarray,
                        codes: list[str], products: dict[str, Product]) -> int:
    """Three open group buys over the parks of several towns, opened through the service
    (invitations, audit), with the registrations of the sites that asked for the product."""
    from matchmaker.campaigns import services as cs
    from matchmaker.campaigns.models import (
        CampaignInvitation,
        CampaignState,
        InviteBy,
        Participation,
        ParticipationState,
    )

    coordinator = db.session.scalar(sa.select(User).where(
        User.email == "coordinator@demo.example"))
    plans = (("Zonnepanelen Zuidoost-Drenthe 2027", "solar_roof", ("Emmen", "Coevorden",
                                                                    "Klazienaveen")),
             ("Isolatie label C Hoogeveen en Meppel", "insulation", ("Hoogeveen", "Meppel")),
             ("Zonnepanelen Noord-Drenthe 2027", "solar_roof", ("Roden", "Zuidlaren", "Gieten")))
    points = shapely.points(sites["x"], sites["y"])
    now = utcnow()
    for title, code, towns in plans:
        chosen = [a for a, t in parks if t.name in towns]
        campaign = cs.create_campaign(cs.CampaignSettings(
            title=title, product=products[code], registration_deadline=now + timedelta(days=30),
            decision_days=14, description="Provinciale inkoopactie (demogegevens).",
            threshold_sites=50, invite_by=InviteBy.DEMAND, area_ids=[a.id for a in chosen]),
            actor=coordinator)
        # Open as the service does, without its e-mail to every invited company (thousands
        # of rendered messages would be most of the build time; the outbox is not measured).
        campaign.state = CampaignState.OPEN
        campaign.opened_at = now
        db.session.flush()
        inside = shapely.contains(shapely.union_all([a.geometry for a in chosen]), points)
        asked = ((product_of == codes.index(code)) & inside[site_of]
                 & (stage != Stage.WITHDRAWN.value))
        # InviteBy.DEMAND: the organisations that registered demand for the product there.
        _insert(CampaignInvitation, [{"campaign_id": campaign.id, "organisation_id": int(o),
                                      "invited_at": now}
                                     for o in np.unique(sites["organisation_id"][site_of[asked]])])
        rows = np.flatnonzero(asked & (rng.random(len(site_of)) < .6))
        _insert(Participation, [
            {"campaign_id": campaign.id, "site_id": int(sites["id"][site_of[d]]),
             "quantity": Decimal(str(quantity[d])), "state": ParticipationState.REGISTERED,
             "late": False, "joined_at": now, "created_at": now, "updated_at": now}
            for d in rows])
    return len(plans)


def _province_fibre(rng: np.random.Generator, parks: list[tuple[Area, Town]],
                    sites: dict[str, np.ndarray], site_of: np.ndarray, product_of: np.ndarray,
                    stage: np.ndarray, demand_ids: np.ndarray, site_org: np.ndarray,
                    site_bag: np.ndarray) -> int:
    """A 30 % fibre check of the demo provider over every province park, created today, and
    the province's fibre demand in each day's snapshot of the town demo's 14-day history (a
    unit appears on the day its company signed up).

    The check's regions are admitted before the province's units go into the snapshots: that
    is cheap and gives the same answer, because no province park overlaps a region published
    before (the Assen parks), so no published history constrains them. Today's counts are
    then published again with the units in place, as ``matchmaker snapshot-fibre`` would."""
    from matchmaker.fibre import services as fibre
    from matchmaker.fibre.models import (
        FibreCheckRegion,
        FibreProgressCache,
        FibreProviderCache,
        FibrePublication,
        FibreSnapshot,
        FibreSnapshotUnit,
        Grouping,
    )

    provider = db.session.scalar(sa.select(User).where(User.email == "aanbieder@demo.example"))
    if provider is None:
        return 0
    check = fibre.create_check(fibre.CheckSettings(
        title="Glasvezel bedrijventerreinen Drenthe 2027", provider=provider,
        deadline=utcnow() + timedelta(days=90), threshold_percent=Decimal(30),
        grouping=Grouping.PER_AREA, area_ids=[a.id for a, _ in parks]), actor=provider)
    # The history's snapshots, taken before the province's demand existed.
    snapshots = list(db.session.execute(sa.select(FibreSnapshot.id, FibreSnapshot.day)
                                        .order_by(FibreSnapshot.day)))
    today = fibre.refresh().day  # admits the new regions (and publishes them, without units)
    wanted = np.flatnonzero((product_of == 2) & (stage != Stage.WITHDRAWN.value))
    if not snapshots:
        return 0
    days = len(snapshots)
    joined = np.where(rng.random(len(wanted)) < 0.7, 0, rng.integers(0, days, len(wanted)))
    units: list[dict[str, Any]] = []
    for day_index, (snapshot_id, _day) in enumerate(snapshots):
        for n in np.flatnonzero(joined <= day_index):
            d = wanted[n]
            s = site_of[d]
            units.append({"snapshot_id": snapshot_id, "unit_key": str(site_bag[s]),
                          "organisation_id": int(site_org[s]), "demand_id": int(demand_ids[d]),
                          "stage": Stage(stage[d]), "x": float(sites["x"][s]),
                          "y": float(sites["y"][s])})
        if len(units) >= 4 * CHUNK:
            _insert(FibreSnapshotUnit, units)
            units.clear()
    _insert(FibreSnapshotUnit, units)
    regions = sa.select(FibreCheckRegion.region_id).where(FibreCheckRegion.check_id == check.id)
    db.session.execute(sa.delete(FibrePublication).where(
        FibrePublication.day == today, FibrePublication.region_id.in_(regions)))
    fibre.publish_day(today)
    # What was computed from the day's first publication (without these units) is not valid.
    db.session.execute(sa.delete(FibreProgressCache))
    db.session.execute(sa.delete(FibreProviderCache))
    fibre.prepare_progress()
    return int(sum(np.sum(joined <= i) for i in range(days)))
