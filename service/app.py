"""The Starlette application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.settings import Settings


async def health_live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    app = Starlette(
        routes=[Route("/health", health_live), Route("/health/live", health_live)],
    )
    app.state.settings = settings
    return app
