"""The owner's app installs on a phone's home screen: a web app manifest with icons, and a
service worker at the site's root that keeps the shell (and the last pages opened) offline."""

from __future__ import annotations

import json
import struct

import pytest

from tests.integration.test_owner_helpers import OVERRIDES


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_manifest_names_the_app_and_its_icons(client):
    with client.get("/static/manifest.webmanifest") as response:  # a file: closed after
        assert response.status_code == 200
        manifest = json.loads(response.get_data(as_text=True))
    assert manifest["name"] == "Regulars" and manifest["display"] == "standalone"
    assert manifest["start_url"] == "/inbox" and manifest["scope"] == "/"
    sizes = set()
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as image:
            assert image.status_code == 200, icon["src"]
            width, height = png_size(image.data)
        assert f"{width}x{height}" == icon["sizes"]
        sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_every_page_links_the_manifest(owner):
    for path in ("/inbox", "/sign-in", "/"):
        page = owner.get(path, follow_redirects=True).get_data(as_text=True)
        assert '<link rel="manifest" href="/static/manifest.webmanifest">' in page, path


def test_the_service_worker_is_served_from_the_root_and_never_cached_stale(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response.headers["Cache-Control"]
    worker = response.get_data(as_text=True)
    assert "/offline" in worker and worker.count("cache.put(") == 1  # static files only
    offline = client.get("/offline")
    assert offline.status_code == 200 and "offline" in offline.get_data(as_text=True)
