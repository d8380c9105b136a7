"""Fixtures the integration stories share."""

from __future__ import annotations

import pytest

from tests.integration.test_care_stories import Story
from tests.integration.test_owner_helpers import sign_in


@pytest.fixture
def story(client, auth, services, clock, twilio, business) -> Story:
    """A business's care told through its public surface (a module may tell it its own way)."""
    return Story(client, auth, services, clock, twilio)


@pytest.fixture
def owner(client, business):
    """The business's owner, signed in (with CSRF on, as on the real pages)."""
    sign_in(client)
    return client
