"""Werkzeug's ProxyFix behind a TLS proxy (nginx, Caddy), switched on by a setting.

``MATCHMAKER_PROXY_FIX=N`` trusts the ``X-Forwarded-For/-Proto/-Host/-Port/-Prefix`` headers of
N proxies in front of the app. Then ``request.is_secure`` is true behind an HTTPS proxy (HSTS,
secure redirects) and ``request.remote_addr`` is the client's address (per-client rate limits).
Trust only as many hops as there are proxies: a client can send these headers itself.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def register(app: Flask) -> None:
    hops = int(app.config.get("PROXY_FIX_HOPS", 0) or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
