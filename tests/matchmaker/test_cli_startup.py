"""Commands start fast: no help text loads the app, the database layer, the geospatial or the
solver libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from matchmaker.cli import LAZY_COMMANDS, _load

HEAVY = ("pandas", "geopandas", "shapely", "scipy", "ortools", "pvlib")
#: The app's own stack: only ``db`` (Flask-Migrate, hence Alembic and SQLAlchemy) needs part
#: of it for its help.
APP_STACK = ("sqlalchemy", "flask_sqlalchemy", "flask_migrate", "alembic", "flask_babel",
             "flask_login", "flask_wtf", "babel")
# Runs the real console entry point with the given arguments in a fresh interpreter, then
# reports which of the watched libraries and which of our modules it imported.
PROBE = """
import json, sys
sys.argv = ["matchmaker"] + sys.argv[1:]
from matchmaker.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in WATCHED if m in sys.modules],
                  "ours": sorted(m for m in sys.modules if m.startswith("matchmaker."))}))
""".replace("WATCHED", repr(HEAVY + APP_STACK))


def help_of(*args: str) -> tuple[str, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args, "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    *text, report = done.stdout.strip().splitlines()
    return "\n".join(text), json.loads(report)


def test_the_groups_help_lists_every_command_without_importing_any():
    text, report = help_of()
    assert report == {"code": 0, "loaded": [], "ours": ["matchmaker.cli"]}
    for name in LAZY_COMMANDS:
        assert f"\n  {name} " in text
    assert "\n  import-addresses  Import an address register (CSV" in text


@pytest.mark.parametrize("command", [*sorted(LAZY_COMMANDS), "run", "shell", "routes"])
def test_every_commands_help_prints_without_heavy_imports(command):
    text, report = help_of(command)
    allowed = set(APP_STACK) - {"flask_babel", "flask_login", "flask_wtf", "babel"}
    assert report["code"] == 0
    assert set(report["loaded"]) <= (allowed if command == "db" else set())
    assert text.startswith(f"Usage: matchmaker {command} ")


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_the_listing_shows_each_commands_own_summary(name):
    assert LAZY_COMMANDS[name].summary == _load(LAZY_COMMANDS[name].path).get_short_help_str(
        limit=10**6)


def test_constants_written_out_for_the_help_match_the_library():
    from geo.heat import DETOUR_FACTOR
    from geo.profiles import MODES
    from matchmaker.energy import cli as energy_cli
    from matchmaker.heat import cli as heat_cli

    assert heat_cli.DETOUR_FACTOR == DETOUR_FACTOR and tuple(energy_cli.MODES) == tuple(MODES)
