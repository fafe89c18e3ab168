"""Fingerprinted static files: ``css/app.css`` is served as ``css/app.<hash>.css``.

The URL changes whenever the content changes, so browsers and proxies may keep a file for a
year without asking again (``Cache-Control: immutable``). Templates keep writing
``url_for('static', filename='css/app.css')``: a URL default swaps in the fingerprinted name.
The names are computed from the files when the app starts (no build step, so ``make run``
and the production stack behave the same); the unfingerprinted name still works with a
short lifetime, for links written by hand.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, send_from_directory

#: A year: the longest lifetime caches honour (RFC 9111 practice).
IMMUTABLE_SECONDS = 365 * 24 * 3600
#: Unfingerprinted names may change content at the next deploy.
PLAIN_SECONDS = 300
DIGEST_LENGTH = 12
_FINGERPRINTED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[^./]+)$")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_LENGTH]


def fingerprinted_name(name: str, digest: str) -> str:
    """``css/app.css`` → ``css/app.<digest>.css`` (a name without suffix gets the digest last)."""
    folder, _, base = name.rpartition("/")
    stem, dot, suffix = base.rpartition(".")
    new = f"{stem}.{digest}.{suffix}" if dot and stem else f"{base}.{digest}"
    return f"{folder}/{new}" if folder else new


def build_manifest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (POSIX relative name) → its fingerprinted name."""
    manifest: dict[str, str] = {}
    if not folder.is_dir():
        return manifest
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            manifest[name] = fingerprinted_name(name, file_digest(path))
    return manifest


def register(app: Flask) -> None:
    folder = Path(app.static_folder or "")
    manifest = build_manifest(folder)
    originals = {fingerprinted: name for name, fingerprinted in manifest.items()}
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def fingerprint_static(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]

    def send_static_file(filename: str) -> Response:
        original = originals.get(filename)
        if original is not None:
            response = send_from_directory(folder, original, max_age=IMMUTABLE_SECONDS)
            response.cache_control.immutable = True
            response.cache_control.public = True
            return response
        if _FINGERPRINTED.match(filename) and filename not in manifest:
            # An old fingerprint (the file changed since): never serve other content under it.
            abort(404)
        return send_from_directory(folder, filename, max_age=PLAIN_SECONDS)

    app.send_static_file = send_static_file  # type: ignore[method-assign]
