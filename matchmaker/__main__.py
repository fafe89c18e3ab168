"""``python -m matchmaker``: the ``matchmaker`` command (used by ``matchmaker serve``)."""

from __future__ import annotations

import sys

from matchmaker.cli import main

if __name__ == "__main__":
    sys.exit(main())
