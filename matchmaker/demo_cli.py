"""``matchmaker demo``: the command alone, so that its help loads none of the demo's data
libraries (:mod:`matchmaker.demo` imports pandas and shapely)."""

from __future__ import annotations

import click

from matchmaker.cli_support import transactional


@click.command("demo")
@transactional
def demo_command() -> None:
    """Load the demo data for Assen once (does nothing when it is loaded already)."""
    from matchmaker.demo import load_demo_once

    load_demo_once()
