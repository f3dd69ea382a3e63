"""The project's exception tree (defined in `models.errors`, the bottom layer, so models can raise it too)."""

from models.errors import (
    AuditGateError,
    AuthError,
    ConfigError,
    ConflictError,
    DataError,
    DataValidationError,
    EquilearnError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    UnavailableError,
)

__all__ = [
    "AuditGateError", "AuthError", "ConfigError", "ConflictError", "DataError", "DataValidationError",
    "EquilearnError", "NotFoundError", "PermissionDeniedError", "Problem", "UnavailableError",
]
