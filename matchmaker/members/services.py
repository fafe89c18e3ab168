"""Organisations and their sites: registration, geocoding against the register, label C."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from geo.addresses import AddressError, addition_key, normalize_addition, normalize_postcode
from geo.crs import in_netherlands, wgs84_to_rd
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.auth.passwords import hash_password
from matchmaker.auth.services import (
    check_account_fields,
    create_user,
    find_user,
    notify_address_in_use,
    send_confirmation,
)
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
    OfferStatus,
    Participation,
    ParticipationState,
)
from matchmaker.errors import N_, Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.members.models import (
    ENERGY_LABELS,
    LegalForm,
    LocationSource,
    Organisation,
    Site,
    Tenure,
)
from matchmaker.register.models import AddressRecord, Area, AreaKind

# Phase voltage for converting a low-voltage connection (3x80A) to kVA.
PHASE_VOLTAGE = 230
_GRID_RE = re.compile(r"^\s*([13])\s*[xX×*]\s*(\d{1,4})\s*[aA]?\s*$")
_KVA_RE = re.compile(r"^\s*(\d{1,5}(?:[.,]\d+)?)\s*kva\s*$", re.IGNORECASE)


def normalize_kvk(text: str) -> str:
    """Eight digits (spaces and dots removed). KvK numbers carry no check digit since 2016,
    so only the form is checked; ``00000000`` is refused."""
    digits = re.sub(r"[\s.]", "", text or "")
    if not re.fullmatch(r"\d{8}", digits) or digits == "00000000":
        raise ServiceError(
            N_("A KvK number has exactly 8 digits, for example 01234567."), field="kvk_number"
        )
    return digits


def parse_grid_connection(text: str | None) -> tuple[str | None, float | None]:
    """``"3x80A"`` → ``("3x80A", 55.2)``; ``"160 kVA"`` → ``("160 kVA", 160.0)``."""
    if not text or not text.strip():
        return None, None
    if match := _GRID_RE.match(text):
        phases, amps = int(match.group(1)), int(match.group(2))
        if amps == 0:
            raise ServiceError(N_("A connection of 0 A is not possible."), field="grid_connection")
        return f"{phases}x{amps}A", round(phases * PHASE_VOLTAGE * amps / 1000, 1)
    if match := _KVA_RE.match(text):
        kva = float(match.group(1).replace(",", "."))
        return f"{kva:g} kVA", kva
    raise ServiceError(
        N_("Write the grid connection as 3x80A, 1x35A or as kVA, for example 160 kVA."),
        field="grid_connection",
    )


def kringen() -> list[Area]:
    return list(db.session.scalars(
        sa.select(Area).where(Area.kind == AreaKind.KRING).order_by(Area.name)
    ))


def _kring(kring_id: int | None) -> Area | None:
    if not kring_id:
        return None
    kring = db.session.get(Area, kring_id)
    if kring is None or kring.kind != AreaKind.KRING:
        raise ServiceError(N_("Choose one of the kringen."), field="kring_id")
    return kring


def check_new_organisation(name: str, kvk_number: str) -> str:
    """The normalised KvK number if an organisation can be registered with it and the name.
    A KvK number is public, so saying it is registered already tells nobody anything new."""
    kvk = normalize_kvk(kvk_number)
    if not name.strip():
        raise ServiceError(N_("Enter the company name."), field="name")
    existing = db.session.scalar(sa.select(Organisation).where(Organisation.kvk_number == kvk))
    if existing is not None:
        raise Conflict(
            N_("KvK number %(kvk)s is registered already. Ask a colleague with an account, or "
               "the association, to add you."),
            field="kvk_number", kvk=kvk,
        )
    return kvk


def register_organisation(
    *,
    name: str,
    kvk_number: str,
    legal_form: LegalForm | str,
    actor: User | None,
    kring_id: int | None = None,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
) -> Organisation:
    kvk = check_new_organisation(name, kvk_number)
    org = Organisation(
        name=name.strip(), kvk_number=kvk, legal_form=LegalForm(legal_form), kring=_kring(kring_id),
        contact_name=contact_name.strip(), contact_email=contact_email.strip().lower(),
        contact_phone=contact_phone.strip(),
    )
    db.session.add(org)
    record(actor, "organisation.create", org, kvk=kvk)
    return org


def register_member(
    *, email: str, password: str, name: str, organisation: dict[str, Any], locale: str = "nl"
) -> User | None:
    """Self-registration: a new organisation and its first member account, in one go. The
    account acts once its owner opened the link sent to the address.

    An address that has an account already is never said to be in use: nothing is created,
    its owner gets a notice instead, and the caller answers exactly as for a new account
    (returns None then). Everything else — the form of the address, the password, the
    company — is checked first, the same for both.
    """
    email = check_account_fields(email, password)
    check_new_organisation(organisation.get("name", ""), organisation.get("kvk_number", ""))
    if find_user(email) is not None:
        hash_password(password)  # the same work, so the answer takes as long
        notify_address_in_use(email)
        return None
    org = register_organisation(
        actor=None, contact_name=organisation.pop("contact_name", None) or name,
        contact_email=organisation.pop("contact_email", None) or email, **organisation,
    )
    user = create_user(email, password, role=Role.MEMBER, organisation=org, name=name,
                       locale=locale, actor=None, confirmed=False)
    send_confirmation(user)
    return user


def update_organisation(org: Organisation, *, actor: User, **fields: Any) -> Organisation:
    if "kvk_number" in fields:
        kvk = normalize_kvk(fields.pop("kvk_number"))
        if kvk != org.kvk_number:
            clash = db.session.scalar(
                sa.select(Organisation.id).where(Organisation.kvk_number == kvk)
            )
            if clash is not None:
                raise Conflict(
                    N_("KvK number %(kvk)s belongs to another organisation."),
                    field="kvk_number", kvk=kvk,
                )
            org.kvk_number = kvk
    if "kring_id" in fields:
        org.kring = _kring(fields.pop("kring_id"))
    if "legal_form" in fields:
        org.legal_form = LegalForm(fields.pop("legal_form"))
    for key in ("name", "contact_name", "contact_email", "contact_phone"):
        if key in fields:
            setattr(org, key, (fields.pop(key) or "").strip())
    if not org.name:
        raise ServiceError(N_("Enter the company name."), field="name")
    db.session.flush()
    record(actor, "organisation.update", org)
    return org


@dataclass(frozen=True)
class AddressLookup:
    """The register's answer for an address: one record, several candidates, or nothing."""

    record: AddressRecord | None
    candidates: tuple[AddressRecord, ...] = ()


def find_address(postcode: str, house_number: int, addition: str = "") -> AddressLookup:
    """Look an address up in the register; additions match loosely (``12-a`` = ``12A``).

    Without an addition, a number with exactly one register record matches it; with several
    (12, 12A, 12B) the member must choose.
    """
    rows = list(db.session.scalars(
        sa.select(AddressRecord)
        .where(AddressRecord.postcode == postcode, AddressRecord.house_number == house_number)
        .order_by(AddressRecord.addition)
    ))
    key = addition_key(addition)
    exact = [r for r in rows if addition_key(r.addition) == key]
    if len(exact) == 1:
        return AddressLookup(exact[0])
    if not key and len(rows) == 1:
        return AddressLookup(rows[0])
    return AddressLookup(None, tuple(rows))


SITE_ATTRIBUTES = (
    "label", "floor_area_m2", "office_area_m2", "flat_roof_area_m2", "energy_label", "year_built",
    "tenure", "grid_connection",
)


def _apply_attributes(site: Site, attrs: dict[str, Any], *, actor: User) -> None:
    for key, value in attrs.items():
        if key not in SITE_ATTRIBUTES:
            raise TypeError(f"unknown site attribute {key}")
        if key == "grid_connection":
            site.grid_connection, site.grid_kva = parse_grid_connection(value)
        elif key == "energy_label":
            if value and value not in ENERGY_LABELS:
                raise ServiceError(N_("Choose an energy label from A++++ to G."),
                                   field="energy_label")
            site.energy_label = value or None
        elif key == "tenure":
            site.tenure = Tenure(value or Tenure.OWNER)
        elif key == "year_built":
            if value is not None and not 1500 <= int(value) <= 2100:
                raise ServiceError(N_("Enter a year of construction between 1500 and 2100."),
                                   field="year_built")
            site.year_built = value
        elif key.endswith("_m2"):
            if value is not None and not 0 <= float(value) <= 10_000_000:
                raise ServiceError(N_("Enter an area between 0 and 10,000,000 m²."), field=key)
            setattr(site, key, float(value) if value is not None else None)
        else:
            setattr(site, key, (value or "").strip())
    if (site.office_area_m2 or 0) > (site.floor_area_m2 or float("inf")):
        raise ServiceError(
            N_("The office area cannot be larger than the floor area."), field="office_area_m2"
        )


def locate_site(
    *, postcode: str, house_number: int, addition: str = "",
    lon: float | None = None, lat: float | None = None,
) -> tuple[dict[str, Any], AddressLookup]:
    """Where a new address lies: from the register, else from the point placed on the map.

    Returns the location fields for the site and the register lookup (so the edge can offer
    candidates). Raises when neither the register nor the map gives a location in the
    Netherlands.
    """
    try:
        postcode = normalize_postcode(postcode)
    except AddressError as err:
        raise ServiceError(err.msgid, field="postcode", **err.params) from err
    if not 1 <= int(house_number) <= 99999:
        raise ServiceError(N_("Enter a house number from 1 to 99999."), field="house_number")
    addition = normalize_addition(addition)
    lookup = find_address(postcode, house_number, addition)
    fields: dict[str, Any] = {"postcode": postcode, "house_number": house_number,
                              "addition": addition}
    if lookup.record is not None:
        rec = lookup.record
        fields.update(addition=rec.addition, street=rec.street, city=rec.city, bag_id=rec.id,
                      x=rec.x, y=rec.y, location_source=LocationSource.REGISTER)
        return fields, lookup
    if lookup.candidates:
        raise ServiceError(
            N_("This address has several entries in the register (%(options)s); enter the "
               "addition."),
            field="addition", options=", ".join(
                f"{r.house_number}{r.addition and '-' + r.addition}" for r in lookup.candidates
            ),
        )
    if lon is None or lat is None:
        raise ServiceError(
            N_("This address is not in the address register. Place the site on the map."),
            field="location",
        )
    x, y = wgs84_to_rd([lon], [lat])
    if not in_netherlands(x, y)[0]:
        raise ServiceError(
            N_("The point on the map lies outside the Netherlands."), field="location"
        )
    fields.update(bag_id=None, x=float(x[0]), y=float(y[0]), location_source=LocationSource.MAP)
    return fields, lookup


def add_site(
    organisation: Organisation,
    *,
    actor: User,
    postcode: str,
    house_number: int,
    addition: str = "",
    lon: float | None = None,
    lat: float | None = None,
    street: str = "",
    city: str = "",
    **attrs: Any,
) -> Site:
    fields, _lookup = locate_site(
        postcode=postcode, house_number=house_number, addition=addition, lon=lon, lat=lat
    )
    duplicate = db.session.scalar(sa.select(Site.id).where(
        Site.organisation_id == organisation.id, Site.postcode == fields["postcode"],
        Site.house_number == fields["house_number"], Site.addition == fields["addition"],
    ))
    if duplicate is not None:
        raise Conflict(N_("Your organisation has a site at this address already."),
                       field="house_number")
    if fields["location_source"] == LocationSource.MAP:
        fields.update(street=street.strip(), city=city.strip())
    site = Site(organisation=organisation, **fields)
    _apply_attributes(site, attrs, actor=actor)
    db.session.add(site)
    record(actor, "site.create", site, address=site.address, source=str(site.location_source))
    return site


def update_site(site: Site, *, actor: User, **attrs: Any) -> Site:
    _apply_attributes(site, attrs, actor=actor)
    db.session.flush()
    record(actor, "site.update", site)
    return site


def delete_site(site: Site, *, actor: User) -> None:
    """Remove a site and its demand; refused while it takes part in a running group buy, with
    what the member can do about it in that group buy's state (``Conflict.params["campaign_id"]``
    lets the page link to it)."""
    found = db.session.execute(
        sa.select(Campaign, Participation)
        .join(Participation, Participation.campaign_id == Campaign.id)
        .where(Participation.site_id == site.id,
               Participation.state == ParticipationState.REGISTERED,
               Campaign.state.in_([CampaignState.OPEN, CampaignState.BIDDING,
                                   CampaignState.OFFERED, CampaignState.CONTRACTED]))
        .limit(1)
    ).first()
    if found is not None:
        campaign, participation = found
        offer = participation.offer
        if campaign.state == CampaignState.CONTRACTED or (
                offer is not None and offer.status == OfferStatus.ACCEPTED):
            msgid = N_("This site has a binding agreement in the group buy \u201c%(title)s\u201d, "
                       "so it stays until that work is done. Ask the coordinator if the "
                       "building is no longer yours.")
        elif campaign.state == CampaignState.OPEN:
            msgid = N_("This site takes part in the group buy \u201c%(title)s\u201d. Withdraw "
                       "its registration there first; then you can remove the site.")
        elif offer is not None and offer.status == OfferStatus.PENDING:
            msgid = N_("This site has an offer in the group buy \u201c%(title)s\u201d. Decline "
                       "the offer there first; then you can remove the site.")
        else:
            msgid = N_("This site takes part in the group buy \u201c%(title)s\u201d, whose "
                       "registration has closed. You can remove the site once you have declined "
                       "its offer or the group buy has ended.")
        raise Conflict(msgid, title=campaign.title, campaign_id=campaign.id)
    record(actor, "site.delete", site, address=site.address)
    db.session.delete(site)
    db.session.flush()


def label_c_required(site: Site, *, min_office_m2: float = 100.0, min_share: float = 0.5) -> bool:
    """Whether the office obligation applies and the known label is worse than C.

    Since 1 January 2023 an office building needs label C or better when its office area is
    over 100 m² and office use is more than half of the floor area.
    """
    return office_obligation_applies(site, min_office_m2=min_office_m2, min_share=min_share) and (
        site.energy_label in ("D", "E", "F", "G")
    )


def office_obligation_applies(
    site: Site, *, min_office_m2: float = 100.0, min_share: float = 0.5
) -> bool:
    office = site.office_area_m2 or 0
    floor = site.floor_area_m2 or office
    return office > min_office_m2 and floor > 0 and office / floor > min_share
