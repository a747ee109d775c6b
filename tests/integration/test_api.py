"""The JSON API: its OpenAPI document, errors that name the field, CSRF, and tenant isolation."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.access.models import ListEntry
from cloud.api import API_PREFIX, ROUTES_KEY
from cloud.org.models import User
from cloud.sites.models import Command, Edge, Lane, Site
from tests.conftest import make_tenant
from tests.e2e.seed import add_records, make_place
from tests.integration.test_tenant_isolation import FACTORIES, MARK

Client = TestClient[web.Request, web.Application]

# API collection path -> the page path whose tenant-B row factory it shares.
API_TO_PAGE = {
    "/users": "/users",
    "/roles": "/roles",
    "/departments": "/departments",
    "/positions": "/positions",
    "/sites": "/sites",
    "/gates": "/gates",
    "/lanes": "/lanes",
    "/devices": "/devices",
    "/list-entries": "/lists",
    "/access-rules": "/rules",
    "/edges": "/edges",
    "/identity-types": "/campus/identity-types",
    "/registrants": "/campus/registrants",
    "/imports": "/campus/imports",
    "/vehicles": "/campus/vehicles",
    "/charging-providers": "/charging/providers",
    "/property-companies": "/charging/properties",
    "/charging-stations": "/charging/stations",
    "/charging-areas": "/charging/areas",
    "/charging-spaces": "/charging/spaces",
    "/chargers": "/charging/chargers",
    "/connectors": "/charging/connectors",
    "/id-tags": "/charging/id-tags",
    "/tariffs": "/charging/tariffs",
    "/charging-orders": "/charging/orders",
    "/payments": "/payments",
    "/refunds": "/refunds",
    "/parking-tariffs": "/parking/tariffs",
    "/parking-holidays": "/parking/holidays",
    "/parking-lots": "/parking/lots",
    "/road-sections": "/parking/sections",
    "/berths": "/parking/berths",
    "/berth-sensors": "/parking/sensors",
    "/parking-locks": "/parking/locks",
    "/parking-orders": "/parking/orders",
    "/parking-arrears": "/parking/arrears",
    "/monthly-pass-rules": "/parking/pass-rules",
    "/monthly-passes": "/parking/passes",
    "/special-plates": "/parking/special-plates",
    "/collectors": "/parking/collectors",
}


async def api_sign_in(cloud: Client, account: str, password: str) -> str:
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": account, "password": password}
    )
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["csrf_token"]
    return token


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_the_openapi_document_describes_every_route(cloud: Client) -> None:
    resp = await cloud.get("/api/openapi.json")
    assert resp.status == 200
    document = await resp.json()
    assert document["openapi"].startswith("3.1")
    app = cloud.app
    assert app is not None
    for route in app[ROUTES_KEY]:
        operation = document["paths"][API_PREFIX + route.path][route.method.lower()]
        assert operation["summary"]
        if route.body is not None:
            assert "requestBody" in operation
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, f"{ref} resolves"
    lane_in = _resolve(document, "#/components/schemas/LaneIn")
    assert {"code", "name", "direction"} <= set(lane_in["properties"])


async def test_a_bad_body_is_refused_naming_the_field_and_nothing_changes(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant, prefix="alpha-")
    csrf = await api_sign_in(cloud, admin.account, admin.password)
    headers = {"X-CSRF-Token": csrf}
    before = (await Site.get(id=place.site.id)).revision
    resp = await cloud.post(
        f"{API_PREFIX}/list-entries",
        json={"site_id": place.site.id, "plate": "NOT A PLATE", "kind": "whitelist"},
        headers=headers,
    )
    body = await resp.json()
    assert resp.status == 422, body
    assert body["field"] == "plate"
    assert "plate" in body["message"]
    resp = await cloud.post(f"{API_PREFIX}/list-entries", data=b"{nope", headers=headers)
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_json"
    resp = await cloud.post(
        f"{API_PREFIX}/list-entries",
        json={"site_id": place.site.id, "plate": "京A12345", "kind": "greylist"},
        headers=headers,
    )
    assert resp.status == 422 and (await resp.json())["field"] == "kind"
    assert (await Site.get(id=place.site.id)).revision == before


async def test_a_good_body_is_stored_and_published_to_edges(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant, prefix="alpha-")
    csrf = await api_sign_in(cloud, admin.account, admin.password)
    before = (await Site.get(id=place.site.id)).revision
    resp = await cloud.post(
        f"{API_PREFIX}/list-entries",
        json={"site_id": place.site.id, "plate": "京a 12345", "kind": "blacklist"},
        headers={"X-CSRF-Token": csrf},
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert body["plate"] == "京A12345"
    assert (await Site.get(id=place.site.id)).revision == before + 1
    listed = await (await cloud.get(f"{API_PREFIX}/list-entries?kind=blacklist")).json()
    assert [item["plate"] for item in listed["items"]] == ["京A12345"]


async def test_writes_without_the_csrf_token_are_refused(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant, prefix="alpha-")
    await api_sign_in(cloud, admin.account, admin.password)
    resp = await cloud.post(
        f"{API_PREFIX}/list-entries",
        json={"site_id": place.site.id, "plate": "京A12345", "kind": "whitelist"},
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == "csrf"


async def test_without_a_session_the_api_answers_401_and_without_permission_403(
    cloud: Client,
) -> None:
    assert (await cloud.get(f"{API_PREFIX}/access-records")).status == 401
    clerk = await make_tenant("alpha", admin=False, permissions=["access.view"])
    await api_sign_in(cloud, clerk.account, clerk.password)
    assert (await cloud.get(f"{API_PREFIX}/access-records")).status == 200
    resp = await cloud.get(f"{API_PREFIX}/users")
    assert resp.status == 403
    assert "users.view" in (await resp.json())["message"]


async def test_wrong_passwords_are_throttled(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    for _ in range(5):
        resp = await cloud.post(
            f"{API_PREFIX}/auth/login", json={"account": admin.account, "password": "wrong!"}
        )
        assert resp.status == 401
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": admin.account, "password": admin.password}
    )
    assert resp.status == 429


async def test_every_api_id_route_answers_404_for_another_tenants_row(cloud: Client) -> None:
    alpha = await make_tenant("alpha")
    await make_place(alpha.tenant, prefix="alpha-")
    beta = await make_tenant("beta")
    place = await make_place(beta.tenant, prefix=MARK)
    await add_records(place, ["京B00001"])
    csrf = await api_sign_in(cloud, alpha.account, alpha.password)
    app = cloud.app
    assert app is not None
    routes = [r for r in app[ROUTES_KEY] if "{id}" in r.path]
    collections = {r.path.split("/{id}")[0] for r in routes}
    assert collections == set(API_TO_PAGE), "every API collection has a tenant-isolation case"
    ids = {api: await FACTORIES[page](beta.tenant, place) for api, page in API_TO_PAGE.items()}
    for route in routes:
        collection = route.path.split("/{id}")[0]
        path = API_PREFIX + route.path.replace("{id}", str(ids[collection]))
        resp = await cloud.request(
            route.method, path, json={"name": "hijack"}, headers={"X-CSRF-Token": csrf}
        )
        text = await resp.text()
        # A PUT body is validated before the row is looked up, so it may be refused first.
        allowed = (404, 422) if route.method == "PUT" else (404,)
        assert resp.status in allowed, f"{route.method} {path} answered {resp.status}"
        assert MARK not in text, f"{route.method} {path} leaked tenant B's data"
    assert await ListEntry.filter(tenant=beta.tenant, enabled=True).count() == 1
    assert await User.filter(tenant=beta.tenant, enabled=True).count() == 2
    assert (
        await Lane.filter(tenant=beta.tenant, enabled=True).count()
        == await Lane.filter(tenant=beta.tenant).count()
    )
    edge = await Edge.get(tenant=beta.tenant)
    assert edge.enabled and edge.revoked_at is None and edge.enroll_token_hash == "0" * 64
    assert await Command.filter(tenant=beta.tenant).count() == 1
    for route in app[ROUTES_KEY]:
        if route.method == "GET" and "{id}" not in route.path:
            resp = await cloud.get(API_PREFIX + route.path)
            assert resp.status == 200, f"GET {route.path}: {await resp.text()}"
            assert MARK not in await resp.text(), f"GET {route.path} leaked tenant B's rows"
            assert "京B00001" not in await resp.text()
