"""The API's own OpenAPI document, served at /api/v1/openapi.json."""

from __future__ import annotations


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list(name: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


ERRORS = {
    "401": _json(_ref("Error"), "Missing or invalid API key"),
    "404": _json(_ref("Error"), "No such resource in this business"),
    "422": _json(_ref("Error"), "Invalid input; nothing was changed"),
}
PAGED = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
TS = {"type": ["string", "null"], "format": "date-time"}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Regulars API",
        "version": "1.0.0",
        "description": "Record visits, manage customers and send texts.",
    },  # fmt: skip
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": STR, "message": STR, "field": STR},
                    }
                },
            },  # fmt: skip
            "Business": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": STR,
                    "number": NSTR,
                    "messaging_service_sid": NSTR,
                    "timezone": STR,
                    "sending_window": {"type": "object", "properties": {"start": STR, "end": STR}},
                    "send_rate_per_second": {"type": "number"},
                    "thank_you_delay_minutes": {"type": "integer"},
                    "daily_automated_cap": {"type": "integer"},
                    "review_url": NSTR,
                    "alert_phone": NSTR,
                    "provider_handles_opt_out": {"type": "boolean"},
                    "review_mode": {"enum": ["direct", "ask_first"]},
                    "rating_scale": {"enum": [5, 10]},
                    "review_cooldown_days": {"type": "integer"},
                    "review_reminder_days": {"type": "integer"},
                    "unanswered_alert_minutes": {"type": "integer"},
                    "after_hours_reply": {"type": "boolean"},
                    "missed_call_textback": {"type": "boolean"},
                    "created_at": TS,
                },
            },
            "Customer": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "phone": STR,
                    "name": STR,
                    "email": NSTR,
                    "tags": {"type": "array", "items": STR},
                    "consent": {"enum": ["granted", "unknown", "opted_out"]},
                    "consent_source": NSTR,
                    "consent_at": TS,
                    "opted_out_at": TS,
                    "number_status": STR,
                    "created_at": TS,
                },
            },
            "Message": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "customer_id": {"type": "integer"},
                    "direction": {"enum": ["inbound", "outbound"]},
                    "body": STR,
                    "kind": STR,
                    "status": {
                        "enum": [
                            "received",
                            "scheduled",
                            "sending",
                            "sent",
                            "delivered",
                            "failed",
                            "undelivered",
                            "canceled",
                        ]
                    },
                    "provider_status": NSTR,
                    "segments": {"type": "integer"},
                    "encoding": {"enum": ["GSM-7", "UCS-2"]},
                    "error_code": {"type": ["integer", "null"]},
                    "error_reason": NSTR,
                    "provider_sid": NSTR,
                    "send_at": TS,
                    "sent_at": TS,
                    "delivered_at": TS,
                    "created_at": TS,
                },
            },
            "Visit": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "customer_id": {"type": "integer"},
                    "occurred_at": TS,
                    "staff": NSTR,
                    "amount": {"type": ["number", "null"]},
                    "status": {"enum": ["completed", "canceled"]},
                    "planned": {"type": "array", "items": _ref("Message")},
                },
            },
        },  # fmt: skip
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/v1/business": {
            "get": {
                "summary": "This business's settings",
                "responses": {"200": _json(_ref("Business")), **ERRORS},
            },
            "patch": {
                "summary": "Change settings",
                "requestBody": {"content": {"application/json": {"schema": _ref("Business")}}},
                "responses": {"200": _json(_ref("Business")), **ERRORS},
            },
        },
        "/api/v1/customers": {
            "get": {
                "summary": "List customers, or look one up by phone",
                "parameters": [{"name": "phone", "in": "query", "schema": STR}, *PAGED],
                "responses": {"200": _json(_list("Customer")), **ERRORS},
            },
            "post": {
                "summary": "Create or update a customer by phone",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["phone"],
                                "properties": {
                                    "phone": STR,
                                    "name": STR,
                                    "email": STR,
                                    "tags": {"type": "array", "items": STR},
                                    "consent": {"type": "boolean"},
                                    "consent_source": STR,
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Customer"), "Updated"),
                    "201": _json(_ref("Customer"), "Created"),
                    **ERRORS,
                },
            },
        },
        "/api/v1/customers/{id}": {
            "get": {
                "summary": "One customer",
                "parameters": [ID],
                "responses": {"200": _json(_ref("Customer")), **ERRORS},
            }
        },
        "/api/v1/customers/{id}/messages": {
            "get": {
                "summary": "The conversation, oldest first",
                "parameters": [ID, *PAGED],
                "responses": {"200": _json(_list("Message")), **ERRORS},
            }
        },
        "/api/v1/visits": {
            "post": {
                "summary": "Record a visit and plan its follow-ups",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["phone"],
                                "properties": {
                                    "phone": STR,
                                    "name": STR,
                                    "consent": {"type": "boolean"},
                                    "consent_source": STR,
                                    "occurred_at": {"type": "string", "format": "date-time"},
                                    "staff": STR,
                                    "amount": {"type": "number"},
                                },
                            }
                        }
                    },
                },
                "responses": {"201": _json(_ref("Visit"), "Recorded"), **ERRORS},
            }
        },
        "/api/v1/visits/{id}/cancel": {
            "post": {
                "summary": "Cancel or refund a visit: pending follow-ups are canceled",
                "parameters": [ID],
                "responses": {"200": _json(_ref("Visit")), **ERRORS},
            }
        },
        "/api/v1/messages": {
            "post": {
                "summary": "Send a text now",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "customer_id": {"type": "integer"},
                                    "phone": STR,
                                    "body": STR,
                                    "template": STR,
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": _json(_ref("Message"), "Queued"),
                    "409": _json(_ref("Error"), "Opted out or no consent"),
                    **ERRORS,
                },
            }
        },
        "/api/v1/messages/{id}": {
            "get": {
                "summary": "One message with its current status",
                "parameters": [ID],
                "responses": {"200": _json(_ref("Message")), **ERRORS},
            }
        },
        "/api/v1/metrics": {
            "get": {
                "summary": "CSAT, NPS (overall and per staff), review-link open rate, reply rate",
                "parameters": [
                    {
                        "name": "from",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
                "responses": {"200": _json({"type": "object"}), **ERRORS},
            }
        },
        "/api/v1/templates": {
            "get": {
                "summary": "The business's texts: its own copies and the defaults",
                "responses": {"200": _json({"type": "object"}), **ERRORS},
            }
        },
        "/api/v1/templates/{kind}": {
            "put": {
                "summary": "Save the business's copy of a text (checked in the sandbox first)",
                "parameters": [{"name": "kind", "in": "path", "required": True, "schema": STR}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["body"],
                                "properties": {"body": STR},
                            }
                        }
                    },
                },
                "responses": {"200": _json({"type": "object"}), **ERRORS},
            },
            "delete": {
                "summary": "Go back to the default text",
                "parameters": [{"name": "kind", "in": "path", "required": True, "schema": STR}],
                "responses": {"200": _json({"type": "object"}), **ERRORS},
            },
        },
    },  # fmt: skip
}
