"""JSON API plumbing: declared routes with pydantic schemas, readable errors, the OpenAPI document."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from cloud.auth import Handler, Principal, principal_of, require
from cloud.errors import Conflict, Invalid, NotFound

API_PREFIX = "/api/v1"
OPENAPI_PATH = "/api/openapi.json"
log = logging.getLogger(__name__)

ApiHandler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ApiRoute:
    """One JSON endpoint: the handler gets (principal, request, body?, query?) and returns a model."""

    method: str
    path: str
    handler: ApiHandler
    summary: str
    permission: str | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    tags: tuple[str, ...] = field(default_factory=tuple)


def field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "__root__") or "(body)"


def invalid_response(exc: ValidationError, *, where: str) -> web.Response:
    errors = [
        {"field": field_path(e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = errors[0]
    return web.json_response(
        {
            "error": "invalid",
            "field": first["field"],
            "message": f"{where} field '{first['field']}': {first['message']}",
            "errors": errors,
        },
        status=422,
    )


def _serialise(value: Any, response: Any) -> Any:
    if response is None:
        return value
    return TypeAdapter(response).dump_python(value, mode="json")


def _bind(route: ApiRoute) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if route.body is not None:
            try:
                raw = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return web.json_response(
                    {"error": "bad_json", "field": "(body)", "message": "body is not valid JSON"},
                    status=400,
                )
            try:
                kwargs["body"] = route.body.model_validate(raw)
            except ValidationError as exc:
                return invalid_response(exc, where="body")
        if route.query is not None:
            try:
                kwargs["query"] = route.query.model_validate(dict(request.query))
            except ValidationError as exc:
                return invalid_response(exc, where="query")
        result = await route.handler(principal_of(request), request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return web.json_response(_serialise(result, route.response), status=route.status)

    handle.__name__ = route.handler.__name__
    return require(route.permission)(handle)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Service errors become 404/409/422 JSON on the API; pages handle their own (forms)."""
    try:
        return await handler(request)
    except NotFound as exc:
        if not request.path.startswith("/api/"):
            raise web.HTTPNotFound(text=str(exc)) from None
        return web.json_response({"error": "not_found", "message": str(exc)}, status=404)
    except (Invalid, Conflict) as exc:
        if not request.path.startswith("/api/"):
            raise
        status = 422 if isinstance(exc, Invalid) else 409
        kind = "invalid" if isinstance(exc, Invalid) else "conflict"
        return web.json_response(
            {"error": kind, "field": exc.field, "message": f"field '{exc.field}': {exc.message}"},
            status=status,
        )


ROUTES_KEY = web.AppKey("api_routes", list[ApiRoute])


def mount(app: web.Application, routes: list[ApiRoute]) -> None:
    registered = app.setdefault(ROUTES_KEY, [])
    for route in routes:
        app.router.add_route(route.method, API_PREFIX + route.path, _bind(route))
        registered.append(route)


def _schema_ref(model: Any, components: dict[str, Any], mode: str = "validation") -> dict[str, Any]:
    adapter = TypeAdapter(model)
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    if isinstance(model, type) and issubclass(model, BaseModel) and "title" in schema:
        components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}
    return schema


def openapi_document(routes: list[ApiRoute]) -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string"},
                "field": {"type": "string", "description": "the offending field, dotted"},
                "message": {"type": "string"},
            },
        }
    }
    paths: dict[str, Any] = {}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "tags": list(route.tags),
            "responses": {
                "401": {"description": "not signed in", "content": error},
                "403": {"description": "permission missing or CSRF token wrong", "content": error},
                "404": {"description": "no such row in your tenant", "content": error},
                "422": {"description": "a field is invalid", "content": error},
            },
        }
        if route.permission:
            operation["description"] = f"Needs permission `{route.permission}`."
        parameters = [
            {"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.path.split("/")
            if name.startswith("{")
        ]
        if route.query is not None:
            for name, info in route.query.model_fields.items():
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": info.is_required(),
                        "schema": TypeAdapter(info.annotation or str).json_schema(),
                        "description": info.description or "",
                    }
                )
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_ref(route.body, components)}},
            }
        if route.response is not None:
            operation["responses"][str(route.status)] = {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": _schema_ref(route.response, components, "serialization")
                    }
                },
            }
        else:
            operation["responses"]["204"] = {"description": "done"}
        paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Wayside cloud API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "wayside_session"}
            },
        },
        "security": [{"session": []}],
        "paths": paths,
    }


def setup_openapi(app: web.Application) -> None:
    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(openapi_document(request.app.get(ROUTES_KEY, [])))

    app.router.add_get(OPENAPI_PATH, openapi)


__all__ = ["API_PREFIX", "ApiRoute", "Principal", "mount", "setup_openapi"]
