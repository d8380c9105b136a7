"""A killed worker's texts come back quickly and never twice: a real `regulars worker` process
is killed with SIGKILL mid-batch while the Twilio stand-in holds some of its requests, and a
second worker settles every text, each created at the stand-in exactly once.

The scenario lives in scripts/bench_recovery.py, which also measures how long it takes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench_recovery.py"


@pytest.fixture(scope="module")
def bench_recovery():
    spec = importlib.util.spec_from_file_location("bench_recovery", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_worker_killed_mid_batch_has_every_text_sent_exactly_once(
    bench_recovery, database_url, tmp_path
):
    # A shorter timeout and lease than the defaults (5 + 3 s), so the test waits less.
    result = bench_recovery.kill_mid_batch(
        database_url,
        texts=10,
        kill_after=5,
        env={"TWILIO_TIMEOUT_SECONDS": "3", "LEASE_SECONDS": "1"},
        timeout=90,
        workdir=tmp_path,
    )
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
    assert result["settle_seconds"] is not None, (result, logs)
    assert result["sending_at_kill"] > 0  # the dead worker held texts
    assert result["unanswered_at_kill"] >= 1  # and Twilio had taken some it never heard of
    assert result["created"] == 10 and result["duplicates"] == 0, result
    assert result["exactly_once"]
