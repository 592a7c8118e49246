"""Who may do what. Checked in the core functions the pages call, not only in the UI.

Roles: clinician (everything clinical), researcher (de-identified views and
exports only), admin (clinician plus imports, model retraining, the audit log).
Without sign-in configured the app runs in local single-user mode, bound to
127.0.0.1, and the one local user acts as admin.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    CLINICIAN = "clinician"
    RESEARCHER = "researcher"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_IDENTIFIED = "view identified patient records"
    VIEW_DEIDENTIFIED = "view de-identified data"
    EXPORT_IDENTIFIED = "export identified data"
    EXPORT_DEIDENTIFIED = "export de-identified data"
    RECORD_DECISION = "record case-review decisions"
    IMPORT_DATA = "import cohorts"
    TRAIN_MODEL = "retrain the risk model"
    VIEW_AUDIT = "view the audit log"
    CHANGE_TEAM_SETTINGS = "change the team's settings"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.RESEARCHER: frozenset({Permission.VIEW_DEIDENTIFIED, Permission.EXPORT_DEIDENTIFIED}),
    Role.CLINICIAN: frozenset({
        Permission.VIEW_IDENTIFIED, Permission.VIEW_DEIDENTIFIED, Permission.EXPORT_IDENTIFIED,
        Permission.EXPORT_DEIDENTIFIED, Permission.RECORD_DECISION,
    }),
}
_GRANTS[Role.ADMIN] = _GRANTS[Role.CLINICIAN] | {
    Permission.IMPORT_DATA, Permission.TRAIN_MODEL, Permission.VIEW_AUDIT,
    Permission.CHANGE_TEAM_SETTINGS,
}


@dataclass(frozen=True)
class Principal:
    """The signed-in person as the core sees them: a name for the audit log and a role."""

    user: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in _GRANTS[self.role]

    @property
    def sees_identified_data(self) -> bool:
        return self.can(Permission.VIEW_IDENTIFIED)


#: The single user of an app with no sign-in configured (bound to 127.0.0.1 only).
LOCAL_USER = Principal("local user", Role.ADMIN)


class AccessDenied(PermissionError):
    """Raised by the core when a role lacks a permission; pages show it as a message."""

    def __init__(self, principal: Principal, permission: Permission):
        self.principal = principal
        self.permission = permission
        super().__init__(f"The {principal.role.value} role may not {permission.value}.")


def require(principal: Principal | None, permission: Permission) -> Principal:
    """Return the principal if allowed; raise AccessDenied otherwise (None = local user)."""
    principal = principal or LOCAL_USER
    if not principal.can(permission):
        raise AccessDenied(principal, permission)
    return principal


def pseudonym(patient_id: str, salt: str) -> str:
    """A stable pseudonymous id: the same patient and salt always give the same code."""
    digest = hashlib.sha256(f"{salt}\x00{patient_id}".encode()).hexdigest()
    return f"PX-{digest[:10].upper()}"


# --------------------------------------------------------------------------- roles file


class RolesFileError(ValueError):
    """The roles file is missing or malformed; the app then lets nobody in (fails closed)."""


def load_roles(path: str | Path) -> dict[str, Role]:
    """Read ``email -> role`` from a TOML or YAML file; emails are matched case-insensitively.

    Why a file and not the identity provider's groups: clinics' providers differ,
    and the clinic lead can read and review one short file. The mapping may sit at
    the top level or under a ``roles`` key::

        [roles]
        "dr.lee@clinic.example" = "clinician"
        "r.khan@uni.example" = "researcher"
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RolesFileError(f"cannot read the roles file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            parsed = yaml.safe_load(text) or {}
        else:
            parsed = tomllib.loads(text)
    except Exception as exc:  # TOML and YAML parsers raise their own types
        raise RolesFileError(f"the roles file {path.name} is not valid: {exc}") from exc
    if isinstance(parsed, dict) and isinstance(parsed.get("roles"), dict):
        parsed = parsed["roles"]
    if not isinstance(parsed, dict):
        raise RolesFileError(f"the roles file {path.name} must map emails to roles")
    roles: dict[str, Role] = {}
    for email, role in parsed.items():
        try:
            roles[str(email).strip().lower()] = Role(str(role).strip().lower())
        except ValueError:
            raise RolesFileError(
                f"the roles file {path.name} gives {email!r} the unknown role {role!r}; "
                f"use one of {', '.join(r.value for r in Role)}") from None
    return roles


def principal_for(email: str | None, roles: dict[str, Role]) -> Principal | None:
    """The principal for a signed-in email, or None for someone the clinic has not listed."""
    if not email:
        return None
    role = roles.get(email.strip().lower())
    return Principal(email.strip(), role) if role else None
