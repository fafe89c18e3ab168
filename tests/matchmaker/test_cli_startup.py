"""Commands start fast: no help text loads the geospatial or solver libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from matchmaker.cli import LAZY_COMMANDS

HEAVY = ("pandas", "geopandas", "shapely", "scipy", "ortools", "pvlib")
# Runs the real console entry point with the given arguments in a fresh interpreter, then
# reports which of the heavy libraries it imported.
PROBE = """
import json, sys
sys.argv = ["matchmaker"] + sys.argv[1:]
from matchmaker.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def help_of(*args: str) -> tuple[str, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args, "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    *text, report = done.stdout.strip().splitlines()
    return "\n".join(text), json.loads(report)


def test_the_groups_help_lists_every_command_without_heavy_imports():
    text, report = help_of()
    assert report == {"code": 0, "loaded": []}
    for name in LAZY_COMMANDS:
        assert f"\n  {name} " in text


@pytest.mark.parametrize("command", [*sorted(LAZY_COMMANDS), "run", "shell", "routes"])
def test_every_commands_help_prints_without_heavy_imports(command):
    text, report = help_of(command)
    assert report == {"code": 0, "loaded": []}
    assert text.startswith(f"Usage: matchmaker {command} ")


def test_constants_written_out_for_the_help_match_the_library():
    from geo.heat import DETOUR_FACTOR
    from geo.profiles import MODES
    from matchmaker.energy import cli as energy_cli
    from matchmaker.heat import cli as heat_cli

    assert heat_cli.DETOUR_FACTOR == DETOUR_FACTOR and tuple(energy_cli.MODES) == tuple(MODES)
