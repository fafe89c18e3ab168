"""``python -m matchmaker``: the ``matchmaker`` command (used by ``matchmaker serve``)."""

from __future__ import annotations

import sys

from matchmaker.commands import run

if __name__ == "__main__":
    sys.exit(run())
