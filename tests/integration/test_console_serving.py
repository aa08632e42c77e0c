"""The police console and GraphiQL as the API serves them: local files only, right types,
no traversal, a strict Content-Security-Policy, and a clear page when not built."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from yarl import URL

from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse
from tests.integration.api_harness import Api, api_settings, prepared_warehouse, running_api

pytestmark = pytest.mark.integration

CONSOLE_DIR = Settings().console_dir
BUILT = (CONSOLE_DIR / "vendor" / "manifest.json").is_file()
needs_build = pytest.mark.skipif(
    not BUILT, reason="dashboards/console/vendor is not built: run `make console`"
)

XML_NAMESPACES = ("http://www.w3.org/2000/svg",)
"""Namespace names in SVG-building code: identifiers, never fetched."""
URL_PATTERN = re.compile(r"https?://[^\s\"'`)<>]+")
JS_IMPORTS = (
    re.compile(r"""^\s*(?:import|export)\b[^;'"`]*?\bfrom\s*["']([^"']+)["']""", re.M),
    re.compile(r"""^\s*import\s*["']([^"']+)["']""", re.M),
    re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)"""),
)
"""Static imports, bare imports and dynamic imports of a literal specifier."""
CSS_REFERENCE = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


class References(HTMLParser):
    """Every src and href of a page: what a browser would load from it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.found += [v for k, v in attrs if k in ("src", "href") and v]
        self._in_script = tag == "script" and "src" not in values

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def page_references(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


def loaded_references(path: str, text: str) -> list[str]:
    """What a module or stylesheet makes the browser fetch: imports, url(), @import."""
    if path.endswith(".js"):
        return [found for pattern in JS_IMPORTS for found in pattern.findall(text)]
    if path.endswith(".css"):
        return [a or b for a, b in CSS_REFERENCE.findall(text) if not (a or "").startswith("data:")]
    return []


def resolve(base: str, reference: str) -> str:
    return str(URL(base).join(URL(reference)).path) if not reference.startswith("/") else reference


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(tmp_path_factory.mktemp("console")) as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
async def api(warehouse: EmbeddedWarehouse, configured_kafka: str) -> AsyncIterator[Api]:
    async with running_api(warehouse, configured_kafka) as api:
        yield api


@pytest.fixture(scope="module")
def origin(api: Api) -> str:
    return api.url.removesuffix("/graphql")


async def fetch(api: Api, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with api.http.get(URL(url, encoded=True), headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def assert_strict_policy(headers: dict[str, str], host: str) -> None:
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert f"connect-src 'self' ws://{host} wss://{host}" in policy
    assert "img-src 'self' blob: data:" in policy
    assert "unsafe-eval" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


@needs_build
async def test_root_serves_the_console_with_a_strict_policy(api: Api, origin: str) -> None:
    status, headers, body = await fetch(api, origin + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache"
    assert_strict_policy(headers, URL(origin).authority)
    page = page_references(body.decode())
    assert "/app.js" in page.found and "/console.css" in page.found
    assert page.inline_scripts == 0, "an inline script would need 'unsafe-inline'"


@needs_build
async def test_every_console_asset_is_served_local_and_typed(api: Api, origin: str) -> None:
    """Follows index.html's references and every module's imports, and checks each of the
    console's own files: nothing points to another host."""
    _, _, index = await fetch(api, origin + "/")
    pending = [resolve("/", r) for r in page_references(index.decode()).found]
    own_files = sorted(
        "/" + p.relative_to(CONSOLE_DIR).as_posix()
        for p in CONSOLE_DIR.rglob("*")
        if p.suffix in (".js", ".css", ".html")
        and p.relative_to(CONSOLE_DIR).parts[0] not in ("node_modules", "vendor")
    )
    pending += own_files
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        assert not path.startswith(("http:", "https:", "//")), f"{path} is on another host"
        status, headers, body = await fetch(api, origin + path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(TYPES[Path(path).suffix]), path
        assert "Content-Security-Policy" in headers, path
        text = body.decode()
        for reference in loaded_references(path, text):
            assert not reference.startswith(("http:", "https:", "//")), (path, reference)
            pending.append(resolve(path, reference))
        if not path.startswith("/vendor/"):
            urls = [u for u in URL_PATTERN.findall(text) if not u.startswith(XML_NAMESPACES)]
            assert urls == [], f"{path} names another host: {urls}"
    assert {"/app.js", "/api.js", "/i18n.js", "/map.js", "/views/feed.js"} <= seen


@needs_build
async def test_vendor_assets_are_cached_and_app_files_revalidated(api: Api, origin: str) -> None:
    _, vendor, _ = await fetch(api, origin + "/vendor/graphiql/graphiql.min.js")
    _, own, _ = await fetch(api, origin + "/app.js")
    assert vendor["Cache-Control"] == "public, max-age=86400"
    assert own["Cache-Control"] == "no-cache"
    assert "ETag" in own or "Last-Modified" in own


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/vendor/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/views/..%2f..%2f..%2fpyproject.toml",
        "/..%5c..%5cpyproject.toml",
        "/views/",
        "/views",
        "/node_modules/react/package.json",
        "/package.json",
        "/build.mjs",
        "/.gitignore",
        "/vendor/",
        "/" + "a/" * 200 + "x.js",
    ],
)
async def test_traversal_listing_and_private_files_are_refused(
    api: Api, origin: str, path: str
) -> None:
    status, _, body = await fetch(api, origin + path)
    assert status in (400, 404), (path, status)
    assert b"[tool" not in body and b"<li>" not in body


async def test_the_console_answers_only_allowed_hosts(api: Api, origin: str) -> None:
    status, _, body = await fetch(api, origin + "/", Host="attacker.example")
    assert status == 421
    assert b"does not answer for host" in body


@needs_build
async def test_graphiql_loads_only_local_assets(api: Api, origin: str) -> None:
    status, headers, body = await fetch(api, api.url, Accept="text/html")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    page = page_references(body.decode())
    assert page.inline_scripts == 0
    assert URL_PATTERN.findall(body.decode()) == []
    assert "/vendor/graphiql/graphiql.min.js" in page.found
    assert "/vendor/react/react.production.min.js" in page.found
    for reference in page.found:
        assert reference.startswith("/"), reference
        status, headers, asset = await fetch(api, origin + reference)
        assert status == 200, reference
        assert headers["Content-Type"].startswith(TYPES[Path(reference).suffix]), reference
        for loaded in loaded_references(reference, asset.decode()):
            assert not loaded.startswith(("http:", "https:", "//")), (reference, loaded)


async def test_an_unbuilt_console_says_how_to_build_it(
    warehouse: EmbeddedWarehouse, configured_kafka: str, tmp_path: Path
) -> None:
    unbuilt = tmp_path / "console"
    shutil.copytree(CONSOLE_DIR, unbuilt, ignore=shutil.ignore_patterns("vendor", "node_modules"))
    settings = api_settings(console_dir=unbuilt)
    async with running_api(warehouse, configured_kafka, settings) as api:
        origin = api.url.removesuffix("/graphql")
        for url in (origin + "/", api.url):
            status, headers, body = await fetch(api, url, Accept="text/html")
            assert status == 503, url
            assert b"make console" in body
            assert "default-src 'self'" in headers["Content-Security-Policy"]
