"""One check before every flush: what PostgreSQL refuses (text longer than its column, integers
out of range) SQLite refuses too, and neither stores NaN, infinity, 1e300 or the year 9999
(issue 13, class 6). Runs on both databases."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.errors import InvalidValue
from matchmaker.extensions import db
from matchmaker.members.models import Organisation


def refused(change, field):
    with pytest.raises(InvalidValue) as caught:
        change()
        db.session.flush()
    db.session.rollback()
    assert caught.value.field == field and caught.value.status == 422
    return caught.value


@pytest.mark.parametrize("attribute, value", [
    ("name", "x" * 201), ("kvk_number", "123456789"), ("contact_phone", "+31" * 20),
    ("contact_name", "a\x00b"),
])
def test_text_longer_than_its_column_is_refused_on_every_database(make, attribute, value):
    org = make.organisation()
    refused(lambda: setattr(org, attribute, value), attribute)
    db.session.add(Organisation(name="y" * 200, kvk_number="87654321", legal_form="bv"))
    db.session.flush()  # exactly the column's length is fine, and the session is usable


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e300, 1e16])
def test_numbers_that_are_not_finite_or_implausible_are_never_stored(make, value):
    site = make.site(make.organisation())
    refused(lambda: db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION,
                                               annual_kwh=value)), "annual_kwh")


def test_integers_decimals_and_dates_out_of_range(make):
    refused(lambda: make.site(make.organisation(), house_number=2**31), "house_number")
    refused(lambda: make.demand(make.site(make.organisation()), "solar_roof", Decimal("1e300")),
            "quantity")
    refused(lambda: make.organisation(created_at=datetime(9999, 12, 31, tzinfo=UTC)),
            "created_at")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_a_refused_value_in_a_request_is_a_422_with_nothing_written(app, client, auth, make):
    """A value that reaches the database past a form (here the API of a service called by a
    view without a length check) is a 4xx page, not a database error."""
    from matchmaker.auth.models import Role
    from matchmaker.backup import table_snapshot

    member = make.user(Role.MEMBER)
    auth.login(member)
    before = table_snapshot()
    response = client.post("/organisation", data={
        "name": "Bedrijf", "kvk_number": member.organisation.kvk_number, "legal_form": "bv",
        "contact_name": "a\x00b", "contact_email": "", "contact_phone": ""})
    assert 400 <= response.status_code < 500
    after = table_snapshot()
    assert [t for t in before if t != "audit_log" and before[t] != after[t]] == []
