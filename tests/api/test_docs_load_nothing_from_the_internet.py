"""The Swagger UI page works on a server with no way out: its scripts and styles are served
from DataGuardian's own static files."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders


def test_the_api_docs_page_loads_its_assets_from_the_local_static_files(admin_client):
    page = admin_client.get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', page)
    assert any("swagger-ui" in asset for asset in assets), page[:500]
    for asset in assets:
        assert asset.startswith("/static/"), f"{asset} is not served by DataGuardian"
        assert finders.find(asset.removeprefix("/static/")), f"{asset}: no such static file"
    assert "//cdn" not in page
    assert "https://" not in page.split("<body", 1)[0]
