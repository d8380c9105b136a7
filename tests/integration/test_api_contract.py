"""The contract: the generated OpenAPI document covers every API route and every field, and
the running API keeps to it (Schemathesis, every check, bounded examples)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import Field, create_model
from werkzeug.serving import make_server

from app import create_app
from app.contract import views
from app.web import api, openapi
from tests.integration.test_owner_helpers import sign_in

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS_CONFIG = ROOT / "tests" / "schemathesis.toml"


def _document_paths(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, ops in document["paths"].items() for method in ops}


def test_the_document_lists_every_api_route_of_the_url_map(client):
    document = client.get("/api/v1/openapi.json").get_json()
    routed = set()
    for rule in client.application.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((method.lower(), path))
    assert routed == _document_paths(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            if operation.get("security"):
                assert "401" in statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= statuses, (method, path)
            if "{id}" in path:
                assert "404" in statuses, (method, path)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_field_the_api_returns_is_in_the_document(client, auth, business):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    visit = client.post("/api/v1/visits", json={"phone": "+12125550123", "consent": True},
                        headers=auth).get_json()  # fmt: skip
    customer = client.get(f"/api/v1/customers/{visit['customer_id']}", headers=auth).get_json()
    answers = {
        "BusinessPublic": client.get("/api/v1/business", headers=auth).get_json(),
        "VisitPublic": visit,
        "MessagePublic": visit["planned"][0],
        "CustomerDetail": customer,
    }
    for name, answer in answers.items():
        assert set(answer) == set(schemas[name]["properties"]), name
    for field in ("needs_reply", "unhappy_at", "suggested_reply"):
        assert field in schemas["CustomerDetail"]["properties"]
    assert {"media", "visit_id"} <= set(schemas["MessagePublic"]["properties"])
    assert "skipped" in schemas["VisitPublic"]["properties"]
    patch = schemas["BusinessChanges"]["properties"]
    assert "id" not in patch and "created_at" not in patch


def test_a_field_added_to_an_output_model_appears_in_the_document(monkeypatch):
    """Nothing but the model changes: the document follows."""
    grown = create_model(
        "CustomerDetail",
        __base__=views.CustomerDetail,
        loyalty_tier=(str | None, Field(default=None, description="added")),
    )
    routes = [r if r.response is not views.CustomerDetail else r.__class__(
        **{**r.__dict__, "response": grown}) for r in api.ROUTES]  # fmt: skip
    monkeypatch.setattr(openapi, "ROUTES", routes)
    openapi.document.cache_clear()
    try:
        document = openapi.document()
    finally:
        openapi.document.cache_clear()
    assert "loyalty_tier" in document["components"]["schemas"]["CustomerDetail"]["properties"]


@pytest.fixture
def settings_overrides():
    # Schemathesis sends over a thousand requests a minute with one key.
    return {"api_rate_limit": "100000 per minute"}


@pytest.fixture
def served(services, api_key):
    app = create_app(services=services)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", api_key
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_schemathesis_finds_nothing_wrong(served, tmp_path):
    """Every check: no 5xx, answers match their declared schemas and statuses, bad input is
    refused. Bounded and seeded, so it is a test, not a benchmark."""
    url, key = served
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "--config-file",
        str(SCHEMATHESIS_CONFIG), "run", f"{url}/api/v1/openapi.json", "--checks", "all",
        "-H", f"Authorization: Bearer {key}", "--max-examples", "25", "--seed", "20261201",
        "--report", "junit", "--report-dir", str(tmp_path), "--no-color",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failures" not in result.stdout.split("SUMMARY")[-1]


def test_document_is_valid_json_with_one_operation_id_each(client):
    document = client.get("/api/v1/openapi.json").get_json()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    json.dumps(document)


def test_an_id_beyond_any_row_is_not_found_on_every_door(client, auth, business, app):
    """An INTEGER id column holds 2**31 - 1 at most: a larger id in a URL, a cursor or a body
    finds nothing (and PostgreSQL is never asked to compare an overflowing number)."""
    huge = 2**62
    assert client.get(f"/api/v1/customers/{huge}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/messages/{2**31}", headers=auth).status_code == 404
    page = client.get(f"/api/v1/customers?cursor={10**17}", headers=auth)
    assert page.status_code == 200 and page.json["items"] == []
    sent = client.post("/api/v1/messages", json={"customer_id": huge, "body": "Hi"}, headers=auth)
    assert sent.status_code == 422 and sent.json["error"]["field"] == "customer_id"
    owner = app.test_client()
    sign_in(owner)
    assert owner.get(f"/conversations/{huge}").status_code == 404
    assert owner.get(f"/customers/{2**31}").status_code == 404
