"""``create_app()``: the Litestar application, wired in one place."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import pluggy
from litestar import Litestar, Router
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.config.compression import CompressionConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from flowpilot_core import __version__
from flowpilot_core.config import Settings, load_settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.library import FlowPilot
from flowpilot_core.writeback.reconcile import reconcile_abandoned
from flowpilot_server import unavailable_metrics
from flowpilot_server.api_docs import ApiReferencePlugin, docs_security_headers
from flowpilot_server.deps import provide_caller, provide_ctx, provide_reader
from flowpilot_server.input_guard import check_request
from flowpilot_server.openapi_problems import document_problem_responses, forbid_unknown_request_fields
from flowpilot_server.problems import problem_details_plugin
from flowpilot_server.routes import (
    account,
    fixes,
    health,
    hosted,
    pages,
    previews,
    scripts,
    sessions,
    tickets,
    troubleshooting,
    usage,
    writeback,
)
from flowpilot_server.routes import settings as settings_routes
from flowpilot_server.static_assets import asset_version, static_router


def compression() -> CompressionConfig:
    """Brotli where the client takes it (and the ``brotli`` wheel is installed), else gzip, for every response of
    500 bytes or more: JSON, HTML, static files. A stream (SSE) is compressed chunk by chunk, each flushed at once.

    Brotli quality 2, not Litestar's 5: on FlowPilot's JSON it is the knee of size against time. Opening a session
    with 100 facts and 40 messages (52 KB): 6.46 KB in 83 us at quality 2, 6.42 KB in 170 us at 4, 6.89 KB in
    53 us at 1; a session (5 KB): 1.00 KB in 12 us at 2, 0.90 KB in 28 us at 4. Gzip (clients without brotli)
    at level 5."""
    if importlib.util.find_spec("brotli") is not None:
        return CompressionConfig(backend="brotli", brotli_gzip_fallback=True, brotli_quality=2, gzip_compress_level=5)
    return CompressionConfig(backend="gzip", gzip_compress_level=5)


def create_app(
    settings: Settings | None = None,
    *,
    urls: DatabaseUrls | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
    reconcile_writebacks: bool = True,
) -> Litestar:
    """Build the FlowPilot server. The database engine is created at startup, on the serving loop.

    ``plugin_manager`` replaces the process-wide one (see ``FlowPilot.start``). ``reconcile_writebacks=False``
    leaves finishing abandoned writebacks to someone else: the parent of ``flowpilot serve --workers N`` does it
    once, not every worker.
    """
    settings = settings or load_settings()
    static_version = asset_version(pages.static_dir())

    async def start(app: Litestar) -> None:
        runtime = FlowPilot.start(settings, urls, plugin_manager=plugin_manager)
        app.state.runtime = runtime
        app.state[unavailable_metrics.STATE_KEY] = unavailable_metrics.register(runtime.metrics.registry)
        if reconcile_writebacks:
            # Writebacks a crash left half-way end with exactly one note; in the background, not delaying start-up.
            app.state.reconciler = asyncio.create_task(
                reconcile_abandoned(
                    runtime.writeback, runtime.urls.owner, stale_after=settings.writeback_reconcile_after
                )
            )

    async def stop(app: Litestar) -> None:
        reconciler: asyncio.Task[Any] | None = getattr(app.state, "reconciler", None)
        if reconciler is not None and not reconciler.done():
            reconciler.cancel()
        runtime: FlowPilot | None = getattr(app.state, "runtime", None)
        if runtime is not None:
            await runtime.close()

    openapi = OpenAPIConfig(
        title="FlowPilot API",
        version=__version__,
        description=(
            "AI troubleshooting copilot for MSPs. Authenticate with `Authorization: Bearer <API key or embed token>`."
        ),
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="API key (fp_...) or embed token (JWT)"
                )
            }
        ),
        security=[{"bearer": []}],
        render_plugins=[ApiReferencePlugin(), JsonRenderPlugin()],
        openapi_router=Router(
            "/schema", route_handlers=[], include_in_schema=False, after_request=docs_security_headers
        ),
    )
    handlers: list[Any] = [
        sessions.SessionController,
        account.AccountController,
        settings_routes.SettingsController,
        troubleshooting.TroubleshootingController,
        fixes.FixesController,
        previews.PreviewsController,
        scripts.ScriptTemplatesController,
        scripts.DraftTemplatesController,
        scripts.SessionScriptsController,
        writeback.WritebackController,
        writeback.PsaConnectionController,
        writeback.get_note_quality,
        tickets.ai_parse_ticket,
        usage.get_usage,
        usage.metrics,
        health.healthz,
        health.livez,
        hosted.connectwise_pod_token,
        hosted.connectwise_pod_page,
        pages.pilot,
        pages.pilot_session,
        pages.assistant,
        pages.assistant_deep,
        pages.embed_js,
        pages.root,
        static_router(pages.static_dir(), static_version, after_request=pages.static_security_headers),
    ]
    app = Litestar(
        route_handlers=handlers,
        dependencies={"ctx": Provide(provide_ctx), "caller": Provide(provide_caller), "reads": Provide(provide_reader)},
        plugins=[problem_details_plugin()],
        openapi_config=openapi,
        compression_config=compression(),
        before_request=check_request,
        after_exception=[unavailable_metrics.count_database_unavailable],
        on_startup=[start],
        on_shutdown=[stop],
        debug=False,
    )
    app.state.static_version = static_version
    document = app.plugins.get(OpenAPIPlugin).provide_openapi()
    document_problem_responses(document)
    forbid_unknown_request_fields(document, app)
    return app


def create_worker_app() -> Litestar:
    """The app of one ``flowpilot serve --workers N`` worker (an import-string factory for uvicorn).

    Settings come from the environment the parent prepared (it resolved the database, started an embedded one if
    needed and ran the migrations); the parent also reconciles abandoned writebacks, once for all workers.
    """
    return create_app(load_settings(), reconcile_writebacks=False)
