"""Tortoise models of the campus domain: identities, registrants, vehicles, visitors, appointments.

Field names follow ../shared/GLOSSARY.md and the campus requirements (000, part 1 sections 3.1,
4 and 6; parts 2 and 3 for the mobile side).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from cloud.access.models import TimeOfDayField
from cloud.org.models import Department, Tenant, TenantOwned
from cloud.sites.models import Site


class IdentityKind(StrEnum):
    """The four registrant identities of a school (备案人身份); teacher can never be switched off."""

    student = "student"
    teacher = "teacher"
    staff = "staff"  # third-party service staff (第三方服务人员)
    resident = "resident"


class VehicleKind(StrEnum):
    motor = "motor"  # 机动车
    ebike = "ebike"  # 电动自行车


class OwnerRelation(StrEnum):
    """The registrant's relation to the vehicle's owner (备案人与车主的关系)."""

    self = "self"
    spouse = "spouse"
    parent = "parent"
    child = "child"
    relative = "relative"
    other = "other"


class ReviewStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Slot(StrEnum):
    """The three visiting slots of a day (早上, 下午, 晚上)."""

    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


class AppointmentOrigin(StrEnum):
    request = "request"  # the visitor asked (主动预约)
    invitation = "invitation"  # the host invited (邀请预约)


class AppointmentStatus(StrEnum):
    """A request: pending -> approved | rejected | cancelled.
    An invitation: inviting -> confirmed | cancelled.
    approved and confirmed appointments are in force (已生效)."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    inviting = "inviting"
    confirmed = "confirmed"
    cancelled = "cancelled"


IN_FORCE = (AppointmentStatus.approved, AppointmentStatus.confirmed)


class ImportKind(StrEnum):
    registrants = "registrants"
    vehicles = "vehicles"


class ImportState(StrEnum):
    done = "done"  # every row read; some may have been rejected
    failed = "failed"  # the file itself could not be read: nothing imported


class IdentitySetting(TenantOwned):
    """Per school and identity kind: is it open, and must its registrants upload a face photo."""

    kind = fields.CharEnumField(IdentityKind, max_length=16)
    enabled = fields.BooleanField(default=True)
    face_required = fields.BooleanField(default=False)

    class Meta:
        table = "campus_identity_setting"
        unique_together = (("tenant", "kind"),)


class IdentityType(TenantOwned):
    """A finer identity under a kind (e.g. teacher: full-time, retired, visiting scholar)."""

    kind = fields.CharEnumField(IdentityKind, max_length=16)
    name = fields.CharField(max_length=64)
    description = fields.CharField(max_length=255, default="")
    face_required = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    operator = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campus_identity_type"
        unique_together = (("tenant", "kind", "name"),)


class Registrant(TenantOwned):
    """A person registered with the school (备案人): student, teacher, staff or resident."""

    kind = fields.CharEnumField(IdentityKind, max_length=16)
    identity_type: fields.ForeignKeyNullableRelation[IdentityType] = fields.ForeignKeyField(
        "wayside.IdentityType", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    identity_type_id: int | None
    name = fields.CharField(max_length=64)
    number = fields.CharField(max_length=32, description="student or staff number (学号/工号)")
    id_card_tail = fields.CharField(max_length=6, default="", description="身份证后六位")
    phone = fields.CharField(max_length=20, default="")
    department: fields.ForeignKeyNullableRelation[Department] = fields.ForeignKeyField(
        "wayside.Department", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    department_id: int | None
    unit = fields.CharField(max_length=128, default="", description="unit or supervised dept")
    face_photo = fields.CharField(max_length=128, default="")
    visitor_authorised = fields.BooleanField(default=False, description="teachers only")
    bound_at = fields.DatetimeField(null=True, description="first mobile sign-in (注册状态)")
    phone_verified_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    operator = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campus_registrant"
        unique_together = (("tenant", "kind", "number"),)
        indexes = (Index(fields=("tenant_id", "phone"), name="campus_registrant_phone"),)


class RegistrantRule(TenantOwned):
    """One registrant may pass these gates of one campus on these weekdays between start and end.
    No rule at all means no gate (the state of a freshly imported registrant)."""

    registrant: fields.ForeignKeyRelation[Registrant] = fields.ForeignKeyField(
        "wayside.Registrant", related_name=False, on_delete=fields.CASCADE
    )
    registrant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    gates: fields.JSONField[list[str]] = fields.JSONField(default=list)  # empty: every gate
    weekdays: fields.JSONField[list[int]] = fields.JSONField(default=list)
    start_time = TimeOfDayField()
    end_time = TimeOfDayField()

    class Meta:
        table = "campus_registrant_rule"


class Vehicle(TenantOwned):
    """A registered vehicle and its registration application (车辆备案): one row, reviewed once.

    For an e-bike `plate` holds its plate or frame number, and `valid_until` its validity
    (None: long-term), set at approval.
    """

    registrant: fields.ForeignKeyNullableRelation[Registrant] = fields.ForeignKeyField(
        "wayside.Registrant", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    registrant_id: int | None
    kind = fields.CharEnumField(VehicleKind, max_length=8)
    plate = fields.CharField(max_length=16)
    owner_name = fields.CharField(max_length=64, default="")
    relation = fields.CharEnumField(OwnerRelation, max_length=16, default=OwnerRelation.self)
    status = fields.CharEnumField(ReviewStatus, max_length=16, default=ReviewStatus.pending)
    reject_reason = fields.CharField(max_length=255, default="")
    valid_until = fields.DateField(null=True)
    label_prints = fields.IntField(default=0)
    enabled = fields.BooleanField(default=True)
    submitted_at = fields.DatetimeField(auto_now_add=True)
    reviewed_at = fields.DatetimeField(null=True)
    reviewer = fields.CharField(max_length=64, default="")

    class Meta:
        table = "campus_vehicle"
        unique_together = (("tenant", "kind", "plate"),)


class Visitor(TenantOwned):
    """Someone who visits without registering: known by the phone they verified."""

    phone = fields.CharField(max_length=20)
    name = fields.CharField(max_length=64, default="")
    id_card = fields.CharField(max_length=18, default="")
    avatar = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campus_visitor"
        unique_together = (("tenant", "phone"),)


class Appointment(TenantOwned):
    """A visit: asked by a visitor (request) or offered by a host (invitation)."""

    site: fields.ForeignKeyNullableRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    site_id: int | None
    host: fields.ForeignKeyRelation[Registrant] = fields.ForeignKeyField(
        "wayside.Registrant", related_name=False, on_delete=fields.CASCADE
    )
    host_id: int
    visitor: fields.ForeignKeyNullableRelation[Visitor] = fields.ForeignKeyField(
        "wayside.Visitor", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    visitor_id: int | None
    visitor_name = fields.CharField(max_length=64)
    visitor_phone = fields.CharField(max_length=20)
    visitor_id_card = fields.CharField(max_length=18, default="")
    origin = fields.CharEnumField(AppointmentOrigin, max_length=16)
    visit_date = fields.DateField()
    slot = fields.CharEnumField(Slot, max_length=16)
    window_start = fields.DatetimeField()
    window_end = fields.DatetimeField()
    reason = fields.CharField(max_length=255)
    transport = fields.CharField(max_length=16, default="", description="walk, car, ebike...")
    plate = fields.CharField(max_length=16, default="")
    companions = fields.IntField(default=0)
    companion_names = fields.CharField(max_length=255, default="")
    commitments_accepted_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(AppointmentStatus, max_length=16)
    reject_reason = fields.CharField(max_length=255, default="")
    decided_at = fields.DatetimeField(null=True)
    visited_at = fields.DatetimeField(null=True)
    visited_gate = fields.CharField(max_length=48, default="")
    visited_method = fields.CharField(max_length=16, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campus_appointment"
        indexes = (
            Index(fields=("tenant_id", "visit_date"), name="campus_appointment_day"),
            Index(fields=("tenant_id", "visitor_phone", "visit_date"), name="campus_appt_phone"),
        )


class ImportJob(TenantOwned):
    """One uploaded spreadsheet and what became of its rows (导入结果)."""

    kind = fields.CharEnumField(ImportKind, max_length=16)
    filename = fields.CharField(max_length=255)
    state = fields.CharEnumField(ImportState, max_length=8)
    total = fields.IntField(default=0)
    imported = fields.IntField(default=0)
    rejected = fields.IntField(default=0)
    error = fields.CharField(max_length=255, default="")
    rejects = fields.BinaryField(null=True, description="xlsx of the rejected rows with reasons")
    operator = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campus_import_job"


class PassKey(TenantOwned):
    """The school's Ed25519 key that signs passes (edges hold the public half by kid)."""

    kid = fields.CharField(max_length=8, unique=True)
    private_key = fields.BinaryField()
    public_key = fields.CharField(max_length=64)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campus_pass_key"


class MobileSession(Model):
    """A signed-in phone on the /m/ pages: a registrant or a visitor. The cookie holds a random
    token, the table only its hash."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    registrant: fields.ForeignKeyNullableRelation[Registrant] = fields.ForeignKeyField(
        "wayside.Registrant", related_name=False, null=True, on_delete=fields.CASCADE
    )
    registrant_id: int | None
    visitor: fields.ForeignKeyNullableRelation[Visitor] = fields.ForeignKeyField(
        "wayside.Visitor", related_name=False, null=True, on_delete=fields.CASCADE
    )
    visitor_id: int | None
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "campus_mobile_session"
