"""The API's OpenAPI 3.1 document, generated from the route table in app.web.api.

Why pydantic's own JSON Schema with a thin route table rather than an extension such as
flask-openapi3 or spectree: the commands and views are plain pydantic models shared with the
owner's pages, CSV imports and the CLI, and the API keeps its own error shape and status
codes; a route table of a dozen lines describes exactly that, with no second framework
deciding how requests are parsed or errors are answered.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.contract.views import ErrorBody
from app.models import MAX_ID
from app.web.api import ROUTES, Route

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "The body is not a JSON object",
    401: "Missing or invalid API key",
    403: "Not for this key to change (the sending number is the operator's)",
    404: "No such resource in this business",
    409: "Refused: the customer opted out, has not agreed, or the value belongs to another",
    413: "The body is too large",
    422: "Invalid input; nothing was changed",
    429: "Too many requests for this key (or address); wait a minute and retry",
    503: "Twilio could not be asked; nothing was changed, try again",
}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _path(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _parameters(route: Route, schemas: dict) -> list[dict]:
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID} if kind == "int"
         else {"type": "string", "maxLength": 40}}
        for kind, name in _PARAM.findall(route.rule)
    ]  # fmt: skip
    if route.query is not None:
        query = route.query.model_json_schema(ref_template=REF)
        for name, schema in query.get("properties", {}).items():
            schema = {k: val for k, val in schema.items() if k not in {"title", "default"}}
            params.append({"name": name, "in": "query", "required": False, "schema": schema})
        schemas.update(query.get("$defs", {}))
    return params


@lru_cache(maxsize=1)
def document() -> dict:
    """Every route, every field it takes and gives, every status it can answer."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for route in ROUTES:
        if route.body is not None:
            models.append((route.body, "validation"))
        if route.response is not None:
            models.append((route.response, "serialization"))
    keys, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas = dict(top.get("$defs", {}))
    paths: dict[str, dict] = {}
    for route in ROUTES:
        operation: dict = {"operationId": route.endpoint, "summary": route.summary,
                           "parameters": _parameters(route, schemas)}  # fmt: skip
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keys[(route.body, "validation")]}},
            }
        ok = keys[(route.response, "serialization")] if route.response else {"type": "object"}
        responses = {str(code): _json(ok, "OK") for code in (route.status, *route.also)}
        if route.links:
            responses[str(route.status)]["links"] = {
                target: {"operationId": target, "parameters": {"id": "$response.body#/id"}}
                for target in route.links
            }
        for code in route.errors:
            responses[str(code)] = _json(keys[(ErrorBody, "serialization")], ERROR_TEXT[code])
        operation["responses"] = responses
        if route.auth:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(_path(route.rule), {})[route.method] = operation
    paths["/api/v1/openapi.json"] = {
        "get": {"operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OK",
                                      "content": {"application/json": {}}}}}
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Regulars API",
            "version": "1.0.0",
            "description": "Record visits, manage customers and send texts. Errors are "
            '{"error": {"code", "message", "field"}}; lists are {"items", "next_cursor"}.',
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": paths,
    }
