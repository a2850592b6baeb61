"""The error tree of commpref. Each error knows its HTTP status and HubSpot category;
`http/errors.py` turns them into HubSpot's envelope and `web/` into an error page.

    CommprefError                      500 INTERNAL_ERROR (never raised directly)
    ├── ValidationError                400 VALIDATION_ERROR
    │   ├── MethodNotAllowed           405
    │   ├── RequestTimeout             408 (body not received in time)
    │   ├── PayloadTooLarge            413
    │   ├── UriTooLong                 414
    │   └── UnsupportedMediaType       415
    ├── NotFound                       404 OBJECT_NOT_FOUND
    ├── AuthenticationError            401 INVALID_AUTHENTICATION
    │   └── ExpiredAuthentication      401 EXPIRED_AUTHENTICATION
    ├── MissingScopes                  403 MISSING_SCOPES
    ├── RateLimited                    429 RATE_LIMITS
    └── Unavailable                    503 SERVICE_UNAVAILABLE (database down, overloaded)
"""

from __future__ import annotations

from typing import Any

ErrorDetail = dict[str, Any]

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)


class CommprefError(Exception):
    http_status = 500
    category = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        errors: list[ErrorDetail] | None = None,
        context: dict[str, list[str]] | None = None,
        links: dict[str, str] | None = None,
        sub_category: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.context = context
        self.links = links
        self.sub_category = sub_category
        self.headers = headers or {}
        self.extra = extra or {}  # further top-level body keys (429's policyName, …)


class ValidationError(CommprefError):
    http_status = 400
    category = "VALIDATION_ERROR"


class MethodNotAllowed(ValidationError):
    http_status = 405


class RequestTimeout(ValidationError):
    http_status = 408


class PayloadTooLarge(ValidationError):
    http_status = 413


class UriTooLong(ValidationError):
    http_status = 414


class UnsupportedMediaType(ValidationError):
    http_status = 415


class NotFound(CommprefError):
    http_status = 404
    category = "OBJECT_NOT_FOUND"


class Forbidden(CommprefError):
    """The caller may not do this: a role too low, a user it may not manage, a console form
    without its token."""

    http_status = 403
    category = "FORBIDDEN"


class Conflict(CommprefError):
    """The request clashes with what is stored (an address that already has a user)."""

    http_status = 409
    category = "CONFLICT"


class AuthenticationError(CommprefError):
    http_status = 401
    category = "INVALID_AUTHENTICATION"

    def __init__(self, message: str = AUTH_MESSAGE, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class ExpiredAuthentication(AuthenticationError):
    category = "EXPIRED_AUTHENTICATION"

    def __init__(self, minutes: int) -> None:
        super().__init__(f"The OAuth token used to make this call expired {minutes} minute(s) ago.")


class MissingScopes(CommprefError):
    http_status = 403
    category = "MISSING_SCOPES"

    def __init__(self, scopes: list[str], *, all_required: bool = False) -> None:
        detail = (
            "All of the following scopes are required."
            if all_required
            else "One or more of the following scopes are required."
        )
        super().__init__(
            SCOPES_MESSAGE,
            errors=[{"message": detail, "context": {"requiredGranularScopes": scopes}}],
            links={"scopes": "https://developers.hubspot.com/scopes"},
            context={"missingScopes": scopes},
        )


class RateLimited(CommprefError):
    http_status = 429
    category = "RATE_LIMITS"


class Unavailable(CommprefError):
    http_status = 503
    category = "SERVICE_UNAVAILABLE"
