"""The API reference at ``/schema``: rendered on the server from the OpenAPI document, no CDN, no script.

FlowPilot runs in closed networks, so the usual Redoc/Swagger pages (scripts and fonts from a
CDN) would not load there, and would need a looser Content-Security-Policy than ``/pilot``.
This page is plain HTML with one same-origin stylesheet and the same security headers as
``/pilot``. The machine-readable document stays at ``/schema/openapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response, Router, get
from litestar.openapi.plugins import OpenAPIRenderPlugin

from flowpilot_server.routes.pages import PAGE_HEADERS, content_security_policy

_TEMPLATES = Path(__file__).parent / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True
)
_METHODS = ("get", "post", "put", "patch", "delete", "head")


def _schema_text(schema: Any) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) if schema else ""


def _type_of(schema: dict[str, Any]) -> str:
    """A parameter's type in a few words: ``string (uuid)``, ``integer``, ``string or null``."""
    if "oneOf" in schema:
        return " or ".join(_type_of(s) for s in schema["oneOf"])
    kind = schema.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else str(kind)
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _operations(openapi: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation, grouped by its first tag in the order tags appear, for the template."""
    rows = []
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {})
            rows.append(
                {
                    "tag": (op.get("tags") or ["other"])[0],
                    "method": method.upper(),
                    "path": path,
                    "id": op.get("operationId") or f"{method}-{path}",
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {**p, "type": _type_of(p.get("schema", {}))}
                        for p in [*item.get("parameters", []), *op.get("parameters", [])]
                    ],
                    "body": {media: _schema_text(c.get("schema")) for media, c in body.items()},
                    "responses": [
                        (code, r.get("description", ""), sorted(r.get("content", {})))
                        for code, r in op.get("responses", {}).items()
                    ],
                }
            )
    return rows


def render_api_reference(openapi: dict[str, Any], json_url: str) -> str:
    operations = _operations(openapi)
    tags: dict[str, list[dict[str, Any]]] = {}
    for op in operations:
        tags.setdefault(op["tag"], []).append(op)
    schemas = openapi.get("components", {}).get("schemas", {})
    return _ENV.get_template("api_reference.html").render(
        info=openapi.get("info", {}),
        tags=tags,
        schemas={name: _schema_text(schema) for name, schema in sorted(schemas.items())},
        json_url=json_url,
    )


class ApiReferencePlugin(OpenAPIRenderPlugin):
    """Litestar render plugin for the page above (its stylesheet is served next to it)."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return render_api_reference(openapi_schema, self.get_openapi_json_route(request)).encode()

    def receive_router(self, router: Router) -> None:
        router.register(api_reference_css)


@get("/api-reference.css", include_in_schema=False, sync_to_thread=False)
def api_reference_css() -> Response[bytes]:
    return Response((_TEMPLATES / "api_reference.css").read_bytes(), media_type="text/css")


async def docs_security_headers(response: Any) -> Any:
    """``after_request`` of the ``/schema`` router: the headers ``/pilot`` sends (CSP with no frame-ancestors)."""
    response.headers.update(PAGE_HEADERS)
    response.headers["Content-Security-Policy"] = content_security_policy([])
    return response
