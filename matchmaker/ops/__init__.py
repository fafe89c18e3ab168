"""Running the service in production: the process stack (``matchmaker serve``), the scheduled
work, health and readiness, request logs, proxy headers and fingerprinted static files.

``register(app)`` wires the web-side pieces into ``create_app``; the process-side pieces
(``serve``, ``schedule``) are command-line commands.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from matchmaker.ops import health, proxy, requestlog, static

    requestlog.register(app)
    proxy.register(app)
    static.register(app)
    app.register_blueprint(health.bp)
