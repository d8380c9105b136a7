"""The errors every door shares: one for bad input, one for an action that is not allowed.

The domain raises them; the API turns them into `{"error": {"code", "message", "field"}}` in
one place (app.web.api) and the owner's pages into field errors in one place
(app.web.owner.common). Neither knows about Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping


class Invalid(ValueError):
    """Input that cannot be used; nothing was changed. Carries one or more field errors.

    `field` and `message` are the first error (what the API reports); `errors` holds every
    field's message for a form that shows them all at once.
    """

    status = 422

    def __init__(self, field: str | None, message: str, *, code: str = "invalid_field",
                 errors: Mapping[str, str] | None = None, status: int | None = None):  # fmt: skip
        super().__init__(message)
        if status is not None:
            self.status = status
        self.field = field
        self.message = message
        self.code = code
        self.errors: dict[str, str] = dict(errors) if errors else {}
        if field and field not in self.errors:
            self.errors = {field: message, **self.errors}

    @classmethod
    def many(cls, errors: Mapping[str, str], *, code: str = "invalid_field",
             status: int | None = None) -> Invalid:  # fmt: skip
        field, message = next(iter(errors.items()))
        return cls(field, message, code=code, errors=errors, status=status)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class Refused(Exception):
    """A well-formed request that may not be carried out; `code` is stable for integrations
    and `status` is the HTTP answer the API gives (409 for a conflict with the state)."""

    status = 409

    def __init__(self, code: str, message: str, *, status: int | None = None,
                 field: str | None = None):  # fmt: skip
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        if status is not None:
            self.status = status

    @property
    def errors(self) -> dict[str, str]:
        """As a form's field errors (the same shape as Invalid's)."""
        return {self.field or "form": self.message}


class NotFound(Refused):
    """No such thing in this business (another business's id finds nothing too)."""

    status = 404

    def __init__(self, message: str):
        super().__init__("not_found", message)
