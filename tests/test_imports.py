"""No import circles: every module imports on its own, whatever was imported before it.

A circle shows up as an ImportError only for some orders (the module that enters it first
sees the other half-initialised), so each run tries fresh interpreters with new random orders
and reports the seed that failed. `make lint` checks the direction of imports statically
(import-linter contracts in pyproject.toml).
"""

from __future__ import annotations

import pkgutil
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import importlib, random, sys
names = sys.argv[2:]
random.Random(int(sys.argv[1])).shuffle(names)
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        sys.exit(f"{name}: {type(exc).__name__}: {exc}")
"""


def all_modules() -> list[str]:
    names = []
    for package in ("matchmaker", "geo"):
        names.append(package)
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if not info.name.endswith(".__main__"):  # runs the command line when imported
                names.append(info.name)
    return names


def test_every_module_imports_in_a_random_order():
    names = all_modules()
    assert "matchmaker.campaigns.services.transitions" in names and "geo.certificate" in names
    for seed in random.sample(range(10**9), 3):
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(seed), *names], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"seed {seed}: {done.stderr.strip()[-2000:]}"
