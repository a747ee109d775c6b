"""JSON routes of the org domain under /api/v1: sign-in for API clients, the signed-in user."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from cloud.api import ApiRoute
from cloud.auth import Principal


class MeOut(BaseModel):
    user_id: int
    tenant_id: int
    account: str
    name: str
    is_admin: bool
    permissions: list[str]
    language: str
    csrf_token: str = Field(description="send it back as X-CSRF-Token on every write")


async def me(principal: Principal, request: web.Request) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        account=principal.account,
        name=principal.name,
        is_admin=principal.is_admin,
        permissions=sorted(principal.permissions),
        language=principal.language,
        csrf_token=principal.csrf_token,
    )


ROUTES: list[ApiRoute] = [
    ApiRoute("GET", "/me", me, "The signed-in user", None, response=MeOut, tags=("org",)),
]
