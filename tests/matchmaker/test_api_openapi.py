"""The OpenAPI document matches the API: schemathesis generates requests for every operation
from ``/api/v1/openapi.json`` and checks each response against the document (status code,
content type, schema) and that none is a server error. A valid token is sent, so the real
data paths run (with a check that has visible numbers, consents and exclusions)."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis

from matchmaker.api.services import issue_token
from matchmaker.demand import services as demand_services
from matchmaker.fibre import services

from .test_fibre import Fibre

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:schemathesis.*")


@pytest.fixture
def api(app, make):
    fibre = Fibre(make)
    people = fibre.members(6)
    demand_services.grant_consent(people[0][2], fibre.provider, actor=None)
    record = make.address("9401 AA", 1, x=233500, y=556500)
    check = fibre.check()
    services.exclude_address(check, record, reason="vacant", note="", actor=fibre.provider)
    fibre.check(provider=fibre.other_provider)
    _row, token = issue_token(fibre.provider, actor=None)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), {
        "Authorization": f"Bearer {token}"}


def test_every_response_matches_the_openapi_document(api):
    schema, headers = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8

    for operation in operations:
        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=15, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def responds_as_documented(case):
            case.call_and_validate(headers=headers)

        responds_as_documented()


def test_the_document_gives_each_id_one_name_and_one_type():
    """``area_id`` (a register area) and ``region_id`` (a region of a check) are integers
    wherever the document names them, ``region_ids`` lists of them; no ``areas`` remain."""
    from matchmaker.api.openapi import openapi_document

    seen: dict[str, set[str]] = {}

    def walk(node):
        if isinstance(node, dict):
            for name, schema in (node.get("properties") or {}).items():
                assert name not in ("areas", "area_ids"), name
                if name.endswith("_id"):
                    seen.setdefault(name, set()).add(schema.get("type"))
                if name == "region_ids":
                    seen.setdefault(name, set()).add(schema["items"]["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(openapi_document())
    assert seen == {
        "area_id": {"integer"}, "region_id": {"integer"}, "region_ids": {"integer"},
        "check_id": {"integer"}, "demand_id": {"string"}, "bag_id": {"string"}}
