"""Input and output schemas of the org domain, shared by the admin pages and the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from cloud.permissions import CODES

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Account = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.@-]{3,64}$")
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{5,20}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Language = Literal["zh", "en"]
# Times arrive with any offset (pages send the site zone) and are kept in UTC: SQLite compares
# stored times as text, so a +08:00 bound would not compare right against +00:00 rows.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]


def field_error(field: str, key: str) -> PydanticCustomError:
    """A cross-field rule's error that names the field it belongs next to (ctx field and key)."""
    return PydanticCustomError("field_error", "{field}: {key}", {"field": field, "key": key})


class In(BaseModel):
    """Base of every input schema: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class NameFilter(In):
    """Filter of the small lists (departments, positions, roles): name contains q."""

    q: str = Field(default="", max_length=64)
    enabled: bool | None = None


class DepartmentIn(In):
    name: Name
    parent_id: int | None = None
    sort: int = Field(default=0, ge=0, le=9999)


class DepartmentOut(Out):
    id: int
    name: str
    parent_id: int | None
    parent_name: str | None = None
    sort: int
    enabled: bool


class PositionIn(In):
    name: Name


class PositionOut(Out):
    id: int
    name: str
    enabled: bool


class RoleIn(In):
    name: Name
    permissions: list[str] = Field(default_factory=list)

    @field_validator("permissions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - CODES)
        if unknown:
            raise ValueError("error.permission_unknown")
        return sorted(set(value))


class RoleOut(Out):
    id: int
    name: str
    permissions: list[str]
    enabled: bool


class _UserFields(In):
    name: Name
    phone: Phone | None = None
    department_id: int | None = None
    position_id: int | None = None
    role_id: int | None = None
    is_admin: bool = False
    language: Language = "zh"


class UserCreate(_UserFields):
    account: Account
    password: Password


class UserUpdate(_UserFields):
    account: Account
    password: Password | None = Field(default=None, description="new password; null keeps it")


class UserOut(Out):
    id: int
    account: str
    name: str
    phone: str | None
    department_id: int | None
    department_name: str | None = None
    position_id: int | None
    position_name: str | None = None
    role_id: int | None
    role_name: str | None = None
    is_admin: bool
    enabled: bool
    language: str
    created_at: datetime
    last_login_at: datetime | None


class UserFilter(In):
    q: str = Field(default="", max_length=64, description="account, name or phone contains")
    department_id: int | None = None
    role_id: int | None = None
    enabled: bool | None = None


class AuditOut(Out):
    id: int
    at: datetime
    user_id: int | None
    user_account: str | None = None
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


class AuditFilter(In):
    entity: str = Field(default="", max_length=32)
    action: str = Field(default="", max_length=32)
    user_id: int | None = None
    at_from: UtcDatetime | None = None
    at_to: UtcDatetime | None = None
