"""Demand per site and product, suggestions, and the coordinator's overview."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, TypeVar, TypeVarTuple

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.caching import VersionedCache, version_of
from matchmaker.database import insert_ignore
from matchmaker.demand.models import (
    Demand,
    ParkDemandPublication,
    Product,
    ProviderConsent,
    Stage,
)
from matchmaker.disclosure import SCALE, Cell, may_publish, scaled
from matchmaker.errors import N_, Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.mapgrid import Viewport, cluster_features, extent
from matchmaker.members.models import Organisation, Site
from matchmaker.members.services import label_c_required, office_obligation_applies
from matchmaker.register.models import Area, AreaKind


@dataclass(frozen=True)
class ParkDemand:
    park: Area
    cells: list[Cell]  # one per product, in the order asked for
    day: date | None = None  # the day of the numbers shown (None: nothing published yet)


def _park_states(parks: Sequence[Area]) -> dict[tuple[int, int], dict[str, int]]:
    """Registered (not withdrawn) demand now, per park and product: volume per member
    organisation in whole thousandths."""
    frame = pd.DataFrame(db.session.execute(
        sa.select(Site.x, Site.y, Site.organisation_id, Demand.product_id, Demand.quantity)
        .join(Demand.site).where(Demand.stage != Stage.WITHDRAWN)
    ).all(), columns=["x", "y", "organisation_id", "product_id", "quantity"])
    states: dict[tuple[int, int], dict[str, int]] = {}
    for park in parks:
        inside = frame[shapely.intersects_xy(park.geometry, frame["x"].to_numpy(float),
                                             frame["y"].to_numpy(float))]
        per_member = inside.groupby(["product_id", "organisation_id"])["quantity"].sum()
        for (product_id, org), volume in per_member.items():
            states.setdefault((park.id, int(product_id)), {})[str(org)] = int(
                scaled([volume])[0])
    return states


def publish_park_demand(day: date) -> int:
    """Decide, once, what providers see of the demand per business park and product on
    ``day`` (the daily snapshot; ``matchmaker snapshot-fibre`` runs it). A cell's number takes
    the day's value only when the rule over time allows it (:func:`may_publish`): the day's
    members are a safe group and so is every change against each number published before;
    otherwise the day is hidden. Returns the number of cells decided now (0 when done)."""
    parks = list(db.session.scalars(sa.select(Area).where(Area.kind == AreaKind.PARK)))
    product_ids = list(db.session.scalars(sa.select(Product.id)))
    done = set(db.session.execute(sa.select(ParkDemandPublication.area_id,
                                            ParkDemandPublication.product_id)
                                  .where(ParkDemandPublication.day == day)).all())
    todo = [(p.id, pid) for p in parks for pid in product_ids if (p.id, pid) not in done]
    if not todo:
        return 0
    states = _park_states(parks)
    kept: dict[tuple[int, int], list[dict[str, int]]] = defaultdict(list)
    for area_id, product_id, state in db.session.execute(
            sa.select(ParkDemandPublication.area_id, ParkDemandPublication.product_id,
                      ParkDemandPublication.state)
            .where(ParkDemandPublication.published.is_(True), ParkDemandPublication.day < day)
            .order_by(ParkDemandPublication.day)):
        kept[(area_id, product_id)].append(state or {})
    rows = []
    for key in todo:
        state = states.get(key, {})
        before = kept.get(key, [])
        members = sorted(set(state).union(*before))
        vector = [state.get(m, 0) for m in members]
        ok = bool(state) and may_publish(vector, [[s.get(m, 0) for m in members]
                                                  for s in before])
        rows.append({"area_id": key[0], "product_id": key[1], "day": day, "published": ok,
                     "members": len(state) if ok else None,
                     "volume": Decimal(sum(state.values())) / SCALE if ok else None,
                     "state": state if ok else None})
    return insert_ignore(ParkDemandPublication.__table__, rows,
                         ["area_id", "product_id", "day"])


def demand_per_park(products: Sequence[Product]) -> list[ParkDemand]:
    """What providers see of the demand per business park and product: the latest daily
    publication (:func:`publish_park_demand`), never a number computed for this view, so a
    member's change shows only when the rule over time allows it."""
    parks = list(db.session.scalars(
        sa.select(Area).where(Area.kind == AreaKind.PARK).order_by(Area.name)))
    latest = (sa.select(ParkDemandPublication.area_id, ParkDemandPublication.product_id,
                        sa.func.max(ParkDemandPublication.day).label("day"))
              .group_by(ParkDemandPublication.area_id, ParkDemandPublication.product_id)
              .subquery())
    # The columns shown only: a row's ``state`` holds every member's share of the park (at
    # province scale thousands per park), which decoding cost most of the page's time.
    pub = ParkDemandPublication
    rows = {(r.area_id, r.product_id): r for r in db.session.execute(
        sa.select(pub.area_id, pub.product_id, pub.day, pub.published, pub.members, pub.volume)
        .join(latest, sa.and_(pub.area_id == latest.c.area_id,
                              pub.product_id == latest.c.product_id,
                              pub.day == latest.c.day)))}
    table = []
    for park in parks:
        cells, days = [], []
        for product in products:
            row = rows.get((park.id, product.id))
            if row is not None:
                days.append(row.day)
            cells.append(Cell(row.members, row.volume, False) if row is not None
                         and row.published else Cell(None, None, True))
        table.append(ParkDemand(park, cells, max(days) if days else None))
    return table


def products(*, active_only: bool = True) -> list[Product]:
    query = sa.select(Product).order_by(Product.sort_order, Product.code)
    if active_only:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query))


def product_by_code(code: str) -> Product | None:
    return db.session.scalar(sa.select(Product).where(Product.code == code))


def _quantity(value: Any, product: Product, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", "."))
    except InvalidOperation as exc:
        raise ServiceError(N_("Enter a number."), field=field) from exc
    if not number.is_finite() or number <= 0:
        raise ServiceError(N_("Enter a quantity greater than 0."), field=field)
    if number > product.max_quantity:
        raise ServiceError(
            N_("At most %(max)s %(unit)s per site."), field=field,
            max=product.max_quantity, unit=product.unit,
        )
    if product.integer_only and number != number.to_integral_value():
        raise ServiceError(N_("Enter a whole number."), field=field)
    if number.as_tuple().exponent < -3:  # type: ignore[operator]
        raise ServiceError(N_("Use at most three decimals."), field=field)
    return number


def _validated(product: Product, quantity: Any, quantity_min: Any, quantity_max: Any
               ) -> tuple[Decimal, Decimal | None, Decimal | None]:
    q = _quantity(quantity, product, "quantity")
    if q is None:
        raise ServiceError(N_("Enter a quantity greater than 0."), field="quantity")
    q_min = _quantity(quantity_min, product, "quantity_min")
    q_max = _quantity(quantity_max, product, "quantity_max")
    if q_min is not None and q_min > q:
        raise ServiceError(N_("The minimum cannot be above the quantity."), field="quantity_min")
    if q_max is not None and q_max < q:
        raise ServiceError(N_("The maximum cannot be below the quantity."), field="quantity_max")
    return q, q_min, q_max


def register_demand(
    site: Site,
    product: Product,
    *,
    actor: User,
    quantity: Any,
    quantity_min: Any = None,
    quantity_max: Any = None,
    stage: Stage | str = Stage.INTEREST,
    consent_providers: bool = False,
    note: str = "",
    expected_version: int | None = None,
) -> Demand:
    """Create or update the demand of ``site`` for ``product`` (one row per pair).

    ``expected_version`` is the version the member saw; if someone saved in between, the
    edit is refused instead of silently overwriting theirs. Changing a stored demand always
    needs it: an edit that does not say which version it saw (a form without its hidden
    field, a script) is refused as a conflict, never applied blindly.
    """
    if not product.active:
        raise ServiceError(N_("This product is not offered any more."), field="product")
    q, q_min, q_max = _validated(product, quantity, quantity_min, quantity_max)
    demand = db.session.scalar(
        sa.select(Demand).where(Demand.site_id == site.id, Demand.product_id == product.id)
    )
    created = demand is None
    if demand is None:
        demand = Demand(site=site, product=product)
        db.session.add(demand)
    elif expected_version is None or demand.version != expected_version:
        raise Conflict(
            N_("Someone else changed this demand in the meantime. Check the current values "
               "and save again."),
        )
    demand.quantity, demand.quantity_min, demand.quantity_max = q, q_min, q_max
    demand.stage = Stage(stage)
    general_consent = demand.consent_providers if demand.id is not None else False
    demand.note = (note or "").strip()[:500]
    try:
        db.session.flush()
    except sa.orm.exc.StaleDataError as exc:
        raise Conflict(
            N_("Someone else changed this demand in the meantime. Check the current values "
               "and save again."),
        ) from exc
    demand.consent_providers = bool(general_consent)
    _set_general_consent(demand, bool(consent_providers), actor=actor)
    record(actor, "demand.create" if created else "demand.update", demand,
           product=product.code, quantity=str(q), stage=str(demand.stage))
    return demand


def withdraw_demand(demand: Demand, *, actor: User) -> None:
    demand.stage = Stage.WITHDRAWN
    db.session.flush()
    record(actor, "demand.withdraw", demand)


@dataclass(frozen=True)
class Suggestion:
    product_code: str
    quantity: Decimal
    reason: str  # message id
    params: dict[str, Any]


def suggestions(site: Site, config: dict[str, Any]) -> dict[str, Suggestion]:
    """What the member could register, from the site's attributes."""
    result: dict[str, Suggestion] = {}
    if site.flat_roof_area_m2:
        kwp = (Decimal(str(site.flat_roof_area_m2)) * Decimal(str(config["PV_KWP_PER_M2"])))
        kwp = kwp.quantize(Decimal("0.1"), rounding=ROUND_DOWN)
        if kwp > 0:
            result["solar_roof"] = Suggestion(
                "solar_roof", kwp,
                N_("%(roof)s m² of flat roof × %(factor)s kWp/m² ≈ %(kwp)s kWp"),
                {"roof": Decimal(str(site.flat_roof_area_m2)),
                 "factor": Decimal(str(config["PV_KWP_PER_M2"])), "kwp": kwp},
            )
    if label_c_required(site, min_office_m2=config["LABEL_C_MIN_OFFICE_M2"],
                        min_share=config["LABEL_C_MIN_OFFICE_SHARE"]):
        area = Decimal(str(site.office_area_m2)).quantize(Decimal(1), rounding=ROUND_DOWN)
        result["insulation"] = Suggestion(
            "insulation", area,
            N_("Label C required: this office has label %(label)s; insulating %(area)s m² of "
               "office space helps reach C."),
            {"label": site.energy_label, "area": area},
        )
    return result


def site_flags(site: Site, config: dict[str, Any]) -> dict[str, bool]:
    kwargs = {"min_office_m2": config["LABEL_C_MIN_OFFICE_M2"],
              "min_share": config["LABEL_C_MIN_OFFICE_SHARE"]}
    applies = office_obligation_applies(site, **kwargs)
    return {
        "label_c_required": label_c_required(site, **kwargs),
        "label_unknown": applies and not site.energy_label,
    }


_Ts = TypeVarTuple("_Ts")
T = TypeVar("T")


@dataclass
class OverviewFilter:
    q: str = ""
    product: str = ""
    kring_id: int | None = None
    area_id: int | None = None
    stage: str = ""


def overview_query(filters: OverviewFilter) -> sa.Select[Any]:
    """Demand matching ``filters``, newest change first: the order an index gives at once
    (``ix_demands_updated_at_id``), so a page reads its 50 rows and no more."""
    return _filtered(sa.select(Demand), filters).options(
        contains_eager(Demand.site).contains_eager(Site.organisation)
        .joinedload(Organisation.kring).load_only(Area.id, Area.name),
    ).order_by(Demand.updated_at.desc(), Demand.id.desc())


def _filtered(query: sa.Select[*_Ts], filters: OverviewFilter
              ) -> sa.Select[*_Ts]:
    query = query.join(Demand.site).join(Site.organisation).join(Demand.product)
    if filters.q.strip():
        term = filters.q.strip()
        like = f"%{term.replace('%', '').replace('_', '')}%"
        compact = re.sub(r"\s+", "", term).upper()
        postcode = f"{compact[:4]} {compact[4:]}" if re.fullmatch(r"\d{4}[A-Z]{0,2}", compact) else None
        conditions = [Organisation.name.ilike(like), Site.street.ilike(like), Site.city.ilike(like)]
        if postcode:
            conditions.append(Site.postcode.like(postcode.strip() + "%"))
        query = query.where(sa.or_(*conditions))
    if filters.product:
        query = query.where(Product.code == filters.product)
    if filters.kring_id:
        query = query.where(Organisation.kring_id == filters.kring_id)
    if filters.stage:
        query = query.where(Demand.stage == Stage(filters.stage))
    else:
        query = query.where(Demand.stage != Stage.WITHDRAWN)
    if filters.area_id:
        area = db.session.get(Area, filters.area_id)
        if area is None:
            raise ServiceError(N_("This area does not exist."), field="area_id")
        query = query.where(Site.id.in_(_site_ids_in(area)))
    return query


def _site_ids_in(area: Area) -> list[int]:
    """The sites inside ``area`` or on its boundary: a bounding-box query, then the exact
    test on the candidates' points only."""
    rows = db.session.execute(sa.select(Site.id, Site.x, Site.y).where(
        Site.x.between(area.minx, area.maxx), Site.y.between(area.miny, area.maxy))).all()
    if not rows:
        return []
    ids, xs, ys = (np.asarray(column) for column in zip(*rows, strict=True))
    geom = area.geometry
    shapely.prepare(geom)
    inside: list[int] = ids[shapely.intersects_xy(geom, xs.astype(float),
                                                  ys.astype(float))].tolist()
    return inside


def site_points(filters: OverviewFilter) -> sa.Subquery:
    """One row per site with demand matching ``filters``: ``id``, ``x``, ``y`` (RD New) and
    ``tag``, the code of one of its products (for the colour of a lone point on the map)."""
    return _filtered(sa.select(Site.id.label("id"), Site.x.label("x"), Site.y.label("y"),
                               sa.func.min(Product.code).label("tag")), filters) \
        .group_by(Site.id, Site.x, Site.y).subquery()


def map_clusters(filters: OverviewFilter, view: Viewport) -> dict[str, Any]:
    """The demand map's features for one viewport (:mod:`matchmaker.web.clusters`), computed
    once per version of the demand tables for each filter, zoom and grid-aligned bounding box
    (everyone who opens the map sees the same first view)."""
    step = view.cell_m or 10.0
    snapped = Viewport(step * math.floor(view.minx / step), step * math.floor(view.miny / step),
                       step * math.ceil(view.maxx / step), step * math.ceil(view.maxy / step),
                       view.zoom)
    key = ("map", *_cache_key("", filters)[1:], snapped)
    return _OVERVIEW_CACHE.get(key, version_of("demand"),
                               lambda: cluster_features(site_points(filters), snapped))


def demand_version() -> int:
    """The version of the demand tables this transaction sees: read it once for a page and pass
    it to the overview's functions below (each reads it itself when it is not given)."""
    return version_of("demand")


def map_extent(filters: OverviewFilter, *, version: int | None = None) -> list[float] | None:
    return _OVERVIEW_CACHE.get(("extent", *_cache_key("", filters)[1:]),
                               demand_version() if version is None else version,
                               lambda: extent(site_points(filters)))


def site_demand(site_id: int) -> Site | None:
    """A site with its organisation and demand, for the detail shown when it is clicked."""
    return db.session.scalar(sa.select(Site).where(Site.id == site_id).options(
        joinedload(Site.organisation), selectinload(Site.demands)))


def export_query(filters: OverviewFilter, *, locale: str, by_site: bool = False
                 ) -> sa.Select[*tuple[Any, ...]]:
    """Plain columns of the demand matching ``filters``, for a file that streams (no ORM
    objects: the rows are read after the request's session has ended). Newest change first,
    as on the page; ``by_site`` orders by site (one map feature per site)."""
    kring = sa.orm.aliased(Area)
    columns = _filtered(sa.select(
        Demand.id, Organisation.name, Organisation.kvk_number, kring.name, Site.id,
        Site.bag_id, Site.street, Site.house_number, Site.addition, Site.postcode, Site.city,
        Site.x, Site.y, Product.name_en if locale == "en" else Product.name_nl, Product.code,
        Demand.quantity, Product.unit, Demand.quantity_min, Demand.quantity_max, Demand.stage,
        Demand.consent_providers, Organisation.contact_name, Organisation.contact_email,
        Organisation.contact_phone, Demand.updated_at,
    ), filters).outerjoin(kring, kring.id == Organisation.kring_id)
    query: sa.Select[*tuple[Any, ...]] = columns
    if by_site:
        return query.order_by(Site.id, Product.sort_order)
    return query.order_by(Demand.updated_at.desc(), Demand.id.desc())


def demand_overview(filters: OverviewFilter) -> list[Demand]:
    """All demand matching ``filters``; an area filter keeps sites inside or on its boundary."""
    return list(db.session.scalars(overview_query(filters)).unique().all())


#: Counts and totals of the overview per filter, exact for one version of the demand tables.
_OVERVIEW_CACHE = VersionedCache()


def _cache_key(kind: str, filters: OverviewFilter) -> tuple[Any, ...]:
    return (kind, filters.q.strip(), filters.product, filters.kring_id, filters.area_id,
            filters.stage)


def overview_page(filters: OverviewFilter, *, page: int, per_page: int) -> Pagination:
    """One page of the overview, sliced in SQL; the number of rows is counted in SQL once per
    version of the demand tables (:mod:`matchmaker.caching`)."""
    result = db.paginate(overview_query(filters), page=page, per_page=per_page, error_out=False,
                         count=False)
    result.total = _OVERVIEW_CACHE.get(
        _cache_key("count", filters), version_of("demand"),
        lambda: int(db.session.scalar(
            _filtered(sa.select(sa.func.count(Demand.id)), filters)) or 0))
    return result


def overview_rendered(variant: Hashable, render: Callable[[], T], *,
                      version: int | None = None) -> T:
    """The coordinator's overview (filters, totals, map settings and one page of the table) as
    ``render`` shows it, kept per version of the demand tables: the overview reads the same for
    every staff member, so it is read and rendered once per change of demands, sites,
    organisations or areas and per ``variant`` (what the rendering depends on: the language and
    the query string). Nothing is kept when ``render`` raises (a filter that does not validate).
    Product names and units change only by migration."""
    return _OVERVIEW_CACHE.get(("overview", variant),
                               demand_version() if version is None else version, render)


@dataclass(frozen=True)
class FilterChoices:
    products: list[tuple[str, str]]  # (code, name in the language asked for)
    kringen: list[tuple[int, str]]  # (id, name), by name
    areas: list[tuple[int, str]]  # every other area: parks, neighbourhoods (id, name)


def filter_choices(locale: str, *, version: int | None = None) -> FilterChoices:
    """The options of the overview's filters, read once per version of the demand tables (the
    areas are counted in it) and per language."""
    def read() -> FilterChoices:
        areas = db.session.execute(sa.select(Area.id, Area.name, Area.kind)
                                   .order_by(Area.kind, Area.name)).all()
        return FilterChoices(
            products=[(p.code, p.name(locale)) for p in products()],
            kringen=[(a.id, a.name) for a in areas if a.kind == AreaKind.KRING],
            areas=[(a.id, a.name) for a in areas if a.kind != AreaKind.KRING])
    return _OVERVIEW_CACHE.get(("choices", locale),
                               demand_version() if version is None else version, read)


@dataclass(frozen=True)
class ProductTotal:
    product: Product
    sites: int
    organisations: int
    quantity: Decimal


def overview_totals(filters: OverviewFilter, *, version: int | None = None
                    ) -> list[ProductTotal]:
    """Per product: number of sites, organisations and the total quantity, in SQL (once per
    version of the demand tables)."""
    by_id = {p.id: p for p in products(active_only=False)}
    rows = _OVERVIEW_CACHE.get(_cache_key("totals", filters),
                               demand_version() if version is None else version,
                               lambda: _totals(filters))
    return sorted((ProductTotal(by_id[pid], sites, orgs, Decimal(quantity or 0))
                   for pid, sites, orgs, quantity in rows),
                  key=lambda t: (t.product.sort_order, t.product.code))


def _totals(filters: OverviewFilter) -> list[tuple[int, int, int, Decimal]]:
    matching = _filtered(sa.select(Demand.product_id, Demand.site_id, Site.organisation_id,
                                   Demand.quantity), filters).subquery()
    rows = db.session.execute(
        sa.select(matching.c.product_id, sa.func.count(sa.distinct(matching.c.site_id)),
                  sa.func.count(sa.distinct(matching.c.organisation_id)),
                  sa.func.sum(matching.c.quantity))
        .group_by(matching.c.product_id)).all()
    return [(int(pid), int(sites), int(orgs), Decimal(quantity or 0))
            for pid, sites, orgs, quantity in rows]


# --- consent to providers (name and address, per provider) --------------------------------------


def active_providers() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.role == Role.PROVIDER, User.active.is_(True))
        .order_by(User.name, User.email)
    ))


def consents_for(demands: Sequence[Demand]) -> dict[int, list[ProviderConsent]]:
    """:func:`consents_of` for several demands in one query (with their providers)."""
    result: dict[int, list[ProviderConsent]] = {}
    ids = [d.id for d in demands if d.id is not None]
    if not ids:
        return result
    for consent in db.session.scalars(
            sa.select(ProviderConsent).where(ProviderConsent.demand_id.in_(ids))
            .options(joinedload(ProviderConsent.provider))
            .order_by(ProviderConsent.granted_at, ProviderConsent.id)):
        result.setdefault(consent.demand_id, []).append(consent)
    return result


def consents_of(demand: Demand) -> list[ProviderConsent]:
    if demand.id is None:
        return []
    return list(db.session.scalars(
        sa.select(ProviderConsent).where(ProviderConsent.demand_id == demand.id)
        .order_by(ProviderConsent.granted_at, ProviderConsent.id)
    ))


def _set_general_consent(demand: Demand, value: bool, *, actor: User | None) -> None:
    """The demand form's checkbox: ticking it consents to every active provider now (what
    the box always meant); unticking it withdraws every consent of the demand."""
    before = bool(demand.consent_providers)
    demand.consent_providers = value
    if value == before:
        return
    db.session.flush()
    if value:
        for provider in active_providers():
            grant_consent(demand, provider, actor=actor)
    else:
        for consent in consents_of(demand):
            withdraw_consent(demand, consent.provider, actor=actor)


def grant_consent(demand: Demand, provider: User, *, actor: User | None) -> ProviderConsent:
    """``provider`` may see the company name and address of ``demand`` (idempotent)."""
    if provider.role != Role.PROVIDER:
        raise ServiceError(N_("Choose a provider."), field="provider_id")
    existing: ProviderConsent | None = db.session.scalar(sa.select(ProviderConsent).where(
        ProviderConsent.demand_id == demand.id, ProviderConsent.provider_id == provider.id))
    if existing is not None:
        return existing
    consent = ProviderConsent(demand=demand, provider=provider)
    db.session.add(consent)
    demand.consent_providers = True
    db.session.flush()
    record(actor, "consent.grant", demand, provider_id=provider.id, provider=provider.email)
    return consent


def withdraw_consent(demand: Demand, provider: User, *, actor: User | None) -> bool:
    """Withdraw the consent for ``provider``; the general flag follows the remaining ones."""
    consent = db.session.scalar(sa.select(ProviderConsent).where(
        ProviderConsent.demand_id == demand.id, ProviderConsent.provider_id == provider.id))
    if consent is None:
        return False
    db.session.delete(consent)
    db.session.flush()
    demand.consent_providers = bool(consents_of(demand))
    db.session.flush()
    record(actor, "consent.withdraw", demand, provider_id=provider.id, provider=provider.email)
    return True
