"""The page's live preview (app/static/app.js) gives the same text as the server for every
sample in tests/data/merge_samples.json: the table runs through the server's own functions and
through the page's JavaScript under node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.care import composer
from app.care.outbound import introduce
from app.errors import Invalid

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = json.loads((ROOT / "tests" / "data" / "merge_samples.json").read_text("utf-8"))
APP_JS = ROOT / "app" / "static" / "app.js"
# Loads app.js as the page does (no document ready yet, so nothing is wired) and answers calls
# to window.Regulars read as JSON lines from stdin: [function name, ...arguments].
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const context = { window: {}, document: { readyState: "loading", addEventListener() {} } };
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), context);
const calls = JSON.parse(fs.readFileSync(0, "utf8"));
const out = calls.map(([name, ...args]) => context.window.Regulars[name](...args));
process.stdout.write(JSON.stringify(out));
"""


def run_js(calls: list[list]) -> list:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs node for the preview's JavaScript tests")
        pytest.skip("node is missing: the preview's JavaScript is not checked")
    done = subprocess.run(
        [node, "-e", HARNESS, str(APP_JS)],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(done.stdout)


def server_introduce(body: str, business: str) -> str:
    return introduce(body, SimpleNamespace(name=business), SimpleNamespace(introduced_at=None))


def test_the_first_text_reads_the_same_on_the_page_and_on_the_server():
    samples = SAMPLES["introduce"]
    js = run_js([["introduce", s["body"], s["business"]] for s in samples])
    for sample, page in zip(samples, js, strict=True):
        server = server_introduce(sample["body"], sample["business"])
        assert server == sample["expected"], sample
        assert page == server, sample


def test_an_introduced_customer_gets_the_text_as_typed_on_both():
    body = "Stop by anytime!"
    assert run_js([["introduce", body, ""]]) == [body]
    known = SimpleNamespace(introduced_at="2026-03-01")
    assert introduce(body, SimpleNamespace(name="Bloom"), known) == body


def server_preview(sample: dict, fields: dict) -> dict:
    try:
        text = composer.preview(sample["body"], fields, introduce_as=sample["introduce_as"])
    except Invalid as exc:
        return {"error": exc.message}
    return {"text": text}


def test_the_composer_preview_reads_the_same_on_the_page_and_on_the_server():
    samples = SAMPLES["preview"]
    fields = [s.get("fields", SAMPLES["fields"]) for s in samples]
    js = run_js(
        [["preview", s["body"], f, s["introduce_as"]] for s, f in zip(samples, fields, strict=True)]
    )
    for sample, sample_fields, page in zip(samples, fields, js, strict=True):
        server = server_preview(sample, sample_fields)
        assert server == sample["expected"], sample
        if sample["local"]:
            assert page == {"ok": True, **server}, sample
        else:  # if/else, filters, errors: the page asks the server and shows its answer
            assert page == {"server": True}, sample
