"""``matchmaker demo``: the command alone, so that its help loads none of the demo's data
libraries (:mod:`matchmaker.demo` imports pandas and shapely)."""

from __future__ import annotations

import click

from matchmaker.cli_support import transactional


@click.command("demo")
@click.option("--scale", type=click.Choice(["town", "province"]), default="town",
              show_default=True, help="town: Assen's 450 companies; province: the town plus "
              "Drenthe at the design size (20,000 organisations, 50,000 sites), for benchmarks.")
@transactional
def demo_command(scale: str) -> None:
    """Load the demo data for Assen once (does nothing when it is loaded already)."""
    from matchmaker.demo import load_demo_once

    load_demo_once(scale)
