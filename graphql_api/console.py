"""The police console's files and the local GraphiQL page, served by the API itself.

The console is static: its files hold no data, so they need no token, while everything it
shows comes from /graphql behind the bearer token. A police network has no internet, so
every script and style is served from here and a strict Content-Security-Policy keeps the
browser from loading anything else, even if a page were tricked into asking.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

VENDOR_DIR = "vendor"
BUILT_MARKER = "vendor/manifest.json"
"""Written last by build.mjs: its absence means `make console` has not run."""
GRAPHIQL_PAGE = "graphiql.html"
INDEX_PAGE = "index.html"
MAX_PATH_LENGTH = 256
HIDDEN_TOP_DIRS = frozenset({"node_modules"})
BUILD_FILES = frozenset({"package.json", "package-lock.json"})
"""The build's own files: not part of the console."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".map": "application/json",
    ".woff2": "font/woff2",
}
"""The only kinds of file served: build scripts (.mjs) and anything else stay private."""

NOT_BUILT_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Pingan console not built</title></head>
<body>
<h1>警务控制台尚未构建 · The police console is not built</h1>
<p>请在项目目录运行 <code>make console</code>（需要 Node.js 20 和 npm），然后刷新本页。</p>
<p>Run <code>make console</code> in the project directory (it needs Node.js 20 and npm),
then reload this page. <code>make run</code> and <code>make test</code> build it too.</p>
</body></html>
"""

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def content_security_policy(host: str, *, inline_styles: bool = False) -> str:
    """Only this origin: scripts, styles, fonts, fetches and the websocket.

    `inline_styles` is for GraphiQL, whose editor writes <style> elements at run time; the
    console itself needs none.
    """
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        "default-src 'self'; script-src 'self'; "
        f"style-src {styles}; img-src 'self' blob: data:; font-src 'self' data:; "
        f"connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def page_headers(request: web.Request, *, inline_styles: bool = False) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(
            request.host, inline_styles=inline_styles
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def is_built(console_dir: Path) -> bool:
    return (console_dir / BUILT_MARKER).is_file()


def not_built(request: web.Request) -> web.Response:
    return web.Response(
        status=503,
        text=NOT_BUILT_PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={**page_headers(request), "Cache-Control": "no-store"},
    )


def console_file(console_dir: Path, relative: str) -> Path | None:
    """The file a URL path names inside the console, or None.

    Refuses what a directory listing or traversal would need: empty, dot and hidden
    segments, backslashes, node_modules and the build's files, unknown kinds of file, and
    symlinks that lead out.
    """
    if len(relative) > MAX_PATH_LENGTH or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if any(not part or part.startswith(".") for part in parts) or parts[0] in HIDDEN_TOP_DIRS:
        return None
    if relative in BUILD_FILES:
        return None
    if Path(parts[-1]).suffix not in CONTENT_TYPES:
        return None
    root = console_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def cache_control(relative: str) -> str:
    """Vendor files change only with the lockfile; the console's own files are revalidated on
    every load (ETag/Last-Modified), so an upgrade shows up without a hard refresh."""
    if relative.startswith(VENDOR_DIR + "/"):
        return "public, max-age=86400"
    return "no-cache"


def file_response(request: web.Request, path: Path, relative: str) -> web.FileResponse:
    headers = {
        **page_headers(request),
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": cache_control(relative),
    }
    return web.FileResponse(path, headers=headers)


def console_handlers(console_dir: Path) -> tuple[web.RouteDef, ...]:
    """GET / (the console) and GET /<file> (its modules, styles and vendor assets)."""

    async def index(request: web.Request) -> web.StreamResponse:
        path = console_file(console_dir, INDEX_PAGE)
        if path is None or not is_built(console_dir):
            return not_built(request)
        return file_response(request, path, INDEX_PAGE)

    async def asset(request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        path = console_file(console_dir, relative)
        if path is None:
            return web.Response(status=404, text="not found", headers={"Cache-Control": "no-store"})
        return file_response(request, path, relative)

    return (web.get("/", index), web.get("/{path:.+}", asset))


def graphiql_page(request: web.Request, console_dir: Path) -> web.Response:
    """GraphiQL from /vendor/ instead of a CDN; its script (graphiql.js) adds the console's
    token to the Headers tab."""
    path = console_file(console_dir, GRAPHIQL_PAGE)
    if path is None or not is_built(console_dir):
        return not_built(request)
    return web.Response(
        text=path.read_text(encoding="utf-8"),
        content_type="text/html",
        charset="utf-8",
        headers={**page_headers(request, inline_styles=True), "Cache-Control": "no-cache"},
    )
