"""JSON API plumbing: declared routes with pydantic schemas, readable errors, the OpenAPI document."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError, create_model

from cloud import i18n
from cloud.auth import Handler, Principal, principal_of, require
from cloud.crud import Crud, Page, PageParams
from cloud.errors import Conflict, Invalid, NotFound

API_PREFIX = "/api/v1"
OPENAPI_PATH = "/api/openapi.json"
log = logging.getLogger(__name__)

ApiHandler = Callable[..., Awaitable[Any]]
B = TypeVar("B", bound=BaseModel)


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


def _error_entry(error: Any) -> dict[str, str]:
    context = error.get("ctx") or {}
    if error["type"] == "field_error" and "field" in context:
        # A cross-field rule names the field it belongs to and a translation key for why.
        return {
            "field": str(context["field"]),
            "message": i18n.t(str(context["key"]), "en"),
            "type": "field_error",
        }
    return {"field": field_path(error["loc"]), "message": error["msg"], "type": error["type"]}


def invalid_response(exc: ValidationError, *, where: str) -> web.Response:
    errors = [_error_entry(e) for e in exc.errors(include_url=False, include_input=False)]
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


async def read_body(request: web.Request, model: type[B]) -> B | web.Response:
    """The request's JSON body as `model`, or the 400/422 response naming what is wrong. A
    handler that must find its row first (another tenant's id is a 404 whatever the body
    holds) calls this after the lookup."""
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response(
            {"error": "bad_json", "field": "(body)", "message": "body is not valid JSON"},
            status=400,
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return invalid_response(exc, where="body")


def _bind(route: ApiRoute) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if route.body is not None:
            body = await read_body(request, route.body)
            if isinstance(body, web.Response):
                return body
            kwargs["body"] = body
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
        reason = i18n.t(exc.message, "en")
        return web.json_response(
            {"error": kind, "field": exc.field, "message": f"field '{exc.field}': {reason}"},
            status=status,
        )


def part_of(query: BaseModel, model: type[B]) -> B:
    """The fields of `model` out of a query that merges several models (filters + page)."""
    return model.model_validate({name: getattr(query, name) for name in model.model_fields})


def path_id(request: web.Request) -> int:
    """The {id} of the path; a malformed one names no row, so it is a 404 like a foreign one."""
    raw = request.match_info.get("id", "")
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("row", raw)
    return int(raw)


def crud_routes(
    path: str,
    tag: str,
    permissions: tuple[str, str],
    crud: Crud,
    out: type[BaseModel],
    filter_model: type[BaseModel],
    create_body: type[BaseModel] | None = None,
    update_body: type[BaseModel] | None = None,
) -> list[ApiRoute]:
    """The JSON endpoints of one entity: list, and whichever of get, create, update, enable,
    disable and delete its service offers; permissions are (view, edit)."""
    view, edit = permissions
    noun = path.strip("/").replace("-", "_")
    one = f"{path}/{{id}}"
    tags = (tag,)
    query = create_model(f"{filter_model.__name__}Query", __base__=(filter_model, PageParams))

    async def list_rows(principal: Principal, request: web.Request, query: Any) -> Any:
        return await crud.list(principal, part_of(query, filter_model), part_of(query, PageParams))

    list_rows.__name__ = f"list_{noun}"
    page: Any = Page[out]  # type: ignore[valid-type]  # a page of this entity's schema
    routes = [
        ApiRoute(
            "GET", path, list_rows, f"List {noun}", view, query=query, response=page, tags=tags
        )
    ]
    if crud.get is not None:
        get = crud.get

        async def get_row(principal: Principal, request: web.Request) -> Any:
            return await get(principal, path_id(request))

        get_row.__name__ = f"get_{noun}"
        routes.append(
            ApiRoute("GET", one, get_row, f"One of {noun}", view, response=out, tags=tags)
        )
    if crud.create is not None and create_body is not None:
        create = crud.create

        async def create_row(principal: Principal, request: web.Request, body: Any) -> Any:
            return await create(principal, body)

        create_row.__name__ = f"create_{noun}"
        routes.append(
            ApiRoute(
                "POST",
                path,
                create_row,
                f"Create in {noun}",
                edit,
                body=create_body,
                response=out,
                status=201,
                tags=tags,
            )
        )
    if crud.update is not None and update_body is not None:
        update = crud.update

        async def update_row(principal: Principal, request: web.Request, body: Any) -> Any:
            return await update(principal, path_id(request), body)

        update_row.__name__ = f"update_{noun}"
        routes.append(
            ApiRoute(
                "PUT",
                one,
                update_row,
                f"Change one of {noun}",
                edit,
                body=update_body,
                response=out,
                tags=tags,
            )
        )
    if crud.set_enabled is not None:
        set_enabled = crud.set_enabled
        for verb, enabled in (("enable", True), ("disable", False)):

            async def toggle(
                principal: Principal, request: web.Request, enabled: bool = enabled
            ) -> Any:
                return await set_enabled(principal, path_id(request), enabled)

            toggle.__name__ = f"{verb}_{noun}"
            routes.append(
                ApiRoute(
                    "POST",
                    f"{one}/{verb}",
                    toggle,
                    f"{verb.title()} one of {noun}",
                    edit,
                    response=out,
                    tags=tags,
                )
            )
    if crud.delete is not None:
        delete = crud.delete

        async def delete_row(principal: Principal, request: web.Request) -> None:
            await delete(principal, path_id(request))

        delete_row.__name__ = f"delete_{noun}"
        routes.append(ApiRoute("DELETE", one, delete_row, f"Delete one of {noun}", edit, tags=tags))
    return routes


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
                        "schema": _schema_ref(info.annotation or str, components),
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
