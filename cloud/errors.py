"""The failures a service can name; API routes and pages turn them into 4xx answers or form errors."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a domain service raises on purpose."""


class NotFound(ServiceError):
    """The row does not exist in the caller's tenant (another tenant's rows do not exist either)."""

    def __init__(self, entity: str, ident: object) -> None:
        super().__init__(f"{entity} {ident} not found")
        self.entity = entity
        self.ident = ident


class Invalid(ServiceError):
    """A field holds a value the rules refuse; `field` names it, `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Conflict(ServiceError):
    """The change clashes with existing data (a duplicate code, a row still in use)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
