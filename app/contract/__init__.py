"""The contract every door shares: typed commands in (app.contract.commands), typed views out
(app.contract.views), and the rules they are made of (app.contract.rules).

`parse` builds a command from a form, a CSV row or CLI arguments (strings read leniently);
`parse_json` builds one from a JSON body (types strict: "5" is not 5). Both raise one
`app.errors.Invalid` carrying every field's error, in the same words for every door.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.contract.rules import RULE_CODES
from app.errors import Invalid

M = TypeVar("M", bound=BaseModel)

# pydantic's own error types -> the API's error codes.
_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json",
    "model_type": "invalid_json",
    "model_attributes_type": "invalid_json",
}


def _bounds(model: type[BaseModel] | None, field: str) -> tuple[Any, Any] | None:
    """The (lowest, highest) a number field of `model` allows, when it has both."""
    info = model.model_fields.get(field) if model is not None else None
    if info is None:
        return None
    low = high = None
    for item in _metadata(info):
        low = getattr(item, "ge", None) if getattr(item, "ge", None) is not None else low
        high = getattr(item, "le", None) if getattr(item, "le", None) is not None else high
    return (low, high) if low is not None and high is not None else None


def _metadata(info) -> list:
    """Constraints of a field, also those inside `Annotated[...] | None`."""
    found = list(info.metadata)
    for arg in getattr(info.annotation, "__args__", ()) or ():
        found += list(getattr(arg, "__metadata__", ()))
    expanded = []
    for item in found:  # a Field(ge=.., le=..) inside Annotated carries its own metadata
        expanded += [item, *getattr(item, "metadata", [])]
    return expanded


def _message(
    error: Mapping[str, Any], model: type[BaseModel] | None = None, field: str = ""
) -> str:
    """pydantic's message, said the way the rest of the app says things."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in {"greater_than_equal", "less_than_equal"} and (bounds := _bounds(model, field)):
        whole = isinstance(bounds[0], int) and isinstance(bounds[1], int)
        return f"Enter a {'whole ' if whole else ''}number from {bounds[0]} to {bounds[1]}."
    if kind == "missing":
        return "This is required."
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind in {"greater_than_equal", "greater_than"}:
        return f"Use a number of at least {ctx.get('ge', ctx.get('gt'))}."
    if kind in {"less_than_equal", "less_than"}:
        return f"Use a number of at most {ctx.get('le', ctx.get('lt'))}."
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "Enter a whole number."
    if kind in {"float_type", "float_parsing"}:
        return "Enter a number."
    if kind in {"bool_type", "bool_parsing"}:
        return "Use true or false."
    if kind in {"string_type"}:
        return "Use text."
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters."
    if kind == "string_too_short":
        return "This is required."
    if kind == "literal_error":
        return f"Choose one of {ctx.get('expected')}."
    return str(error.get("msg") or "This is not valid.")


def invalid_from(exc: ValidationError, model: type[BaseModel] | None = None) -> Invalid:
    """Every field's first error, in order; the first one leads (that is what the API shows)."""
    errors: dict[str, str] = {}
    codes: list[str] = []
    found = exc.errors(include_url=False)
    # "X | None" reports its None member too ("Input should be None"): X's error is the one.
    found = [e for e in found if e["type"] != "none_required"] or found
    for error in found:
        ctx = error.get("ctx") or {}
        loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        # A union reports each member; the member name is not a field.
        loc = [part for part in loc if not part.startswith(("function-", "nullable["))]
        field = ctx.get("_field") or (loc[0] if loc else "body")
        if field in errors:
            continue
        kind = error["type"]
        message = _message(error, model, field)
        if kind in {"model_type", "model_attributes_type"} and loc:
            kind, message = "invalid_field", "Use an object with the documented fields."
        elif kind in {"json_invalid", "model_type", "model_attributes_type"}:
            message = "The request body must be a JSON object."
        errors[field] = message
        codes.append(kind if kind in RULE_CODES else _CODES.get(kind, "invalid_field"))
    if not errors:
        return Invalid("body", "The input is not valid.")
    # Not a JSON object at all is a malformed request (400), not bad values (422).
    return Invalid.many(errors, code=codes[0], status=400 if codes[0] == "invalid_json" else None)


def parse(model: type[M], data: Mapping[str, Any], **context: Any) -> M:
    """A command from lenient string input (a form, a CSV row, CLI arguments)."""
    try:
        return model.model_validate(dict(data), context=context or None)
    except ValidationError as exc:
        raise invalid_from(exc, model) from None


def parse_json(model: type[M], raw: bytes | str, **context: Any) -> M:
    """A command from a JSON body: an object whose values have their exact JSON types."""
    try:
        return model.model_validate_json(raw or b"", strict=True, context=context or None)
    except ValidationError as exc:
        raise invalid_from(exc, model) from None
