"""The web client's page at `/` without a browser: served with a policy that lets it load
only this server's files and reach only this server and the media origins, and every module
it imports (and the vendored hls.js it loads) is served with a JavaScript type."""

from __future__ import annotations

import re
from pathlib import Path

from reels.http.web_client import content_security_policy
from reels.settings import Settings
from tests.conftest import Api

WEB_ROOT = Path(__file__).resolve().parents[2] / "reels" / "http" / "static" / "web"
IMPORT = re.compile(r"""from "\./([\w-]+\.js)";""")
HLS_SCRIPT = re.compile(r'"(/static/web/vendor/[^"]+\.js)"')


def test_the_page_at_the_root_is_the_web_client(api: Api) -> None:
    response = api.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/web/app.js"></script>' in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "http://" not in response.text and "https://" not in response.text


def test_every_module_and_the_vendored_player_are_served_as_javascript(api: Api) -> None:
    modules = {"app.js"}
    for source in WEB_ROOT.glob("*.js"):
        modules |= set(IMPORT.findall(source.read_text()))
    [hls_script] = HLS_SCRIPT.findall((WEB_ROOT / "player.js").read_text())

    for url in [*(f"/static/web/{module}" for module in sorted(modules)), hls_script, "/static/web/app.css"]:
        response = api.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
            "text/css",
        )
        # The vendored player lives in a folder named by its version: cached for good.
        versioned = url == hls_script
        assert ("immutable" in response.headers["cache-control"]) is versioned, url
    licences = api.client.get("/static/web/vendor/VENDORED.md").text
    assert "hls.js | 1.5.20 | Apache-2.0" in licences


def test_media_may_come_from_the_object_store_and_its_cdn() -> None:
    settings = Settings(
        public_url="https://reels.example",
        media_base_url="https://cdn.example/media",
        s3_endpoint_url="https://s3.example:9000",
        s3_bucket="reels",
    )

    policy = dict(directive.split(" ", 1) for directive in content_security_policy(settings).split("; "))

    for directive in ("media-src", "img-src", "connect-src"):
        for origin in ("https://reels.example", "https://cdn.example", "https://s3.example:9000"):
            assert origin in policy[directive].split(), (directive, origin)
    assert policy["script-src"] == "'self'"
