"""How errors cross the API: one mapping, used by the server and the client."""
from __future__ import annotations

from appliance import errors

# Status for each error class; anything else an ApplianceError is 400.
STATUS = {
    "TableFullError": 507,
    "StateError": 409,
    "EalError": 500,
    "ResourceError": 507,
    "StorageError": 507,
}
CLASSES = {name: getattr(errors, name) for name in errors.__all__}


def public_name(exc: Exception) -> str:
    """The first class in exc's ancestry that clients know (internal ones are not)."""
    for cls in type(exc).__mro__:
        if cls.__name__ in CLASSES:
            return cls.__name__
    return type(exc).__name__


def status_of(exc: errors.ApplianceError) -> int:
    return STATUS.get(public_name(exc), 400)


def to_body(exc: Exception) -> dict:
    return {"error": {"type": public_name(exc), "message": str(exc)}}


def from_body(status: int, body: dict) -> errors.ApplianceError:
    err = body.get("error", {}) if isinstance(body, dict) else {}
    cls = CLASSES.get(err.get("type"), errors.ApplianceError)
    return cls(err.get("message") or f"HTTP {status}")
