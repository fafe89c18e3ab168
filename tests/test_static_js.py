"""Class 7 of issue 13 (area name in the fibre map's tooltip): no script of ours hands data to
the browser as markup. Leaflet parses a string given to ``bindTooltip``/``bindPopup``/
``setContent`` as HTML, so every such call must get a DOM node (``asText(...)`` or an element
built with ``document.createElement``), and no script writes HTML itself. Every file under
static/js is checked, so a new map cannot reopen it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "static" / "js").glob("*.js"))
LEAFLET_CONTENT = re.compile(r"\.(bindTooltip|bindPopup|setContent|setTooltipContent|"
                             r"setPopupContent)\(\s*([^,)]+)")
RAW_HTML = re.compile(r"\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_pass_data_as_markup(script):
    source = script.read_text(encoding="utf-8")
    assert not RAW_HTML.search(source), f"{script.name} writes HTML"
    elements = set(re.findall(r"var\s+(\w+)\s*=\s*document\.createElement\(", source))
    for method, argument in LEAFLET_CONTENT.findall(source):
        argument = argument.strip()
        assert argument.startswith("asText(") or argument in elements, (
            f"{script.name}: {method}({argument}) may be parsed as HTML; pass asText(...)")


def test_the_sweep_sees_the_maps():
    assert {"fibre-map.js", "campaign-map.js", "demand-map.js"} <= {p.name for p in SCRIPTS}
