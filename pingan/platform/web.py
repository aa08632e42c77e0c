"""Starting an aiohttp app on the running loop, shared by the API and the device webhooks."""

from __future__ import annotations

from aiohttp import web


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` until the caller cleans the runner up; port 0 picks a free port (read it
    from `runner.addresses`). A port that cannot be bound leaves nothing running."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
