"""Settings (app/config.py load_settings): environment, `.env`, overrides, validation."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings, load_settings

SECRET = "s3cret-" + "x" * 25
ACCOUNT_SID = "AC" + "0" * 32
DB = "sqlite:///unused.db"


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path, monkeypatch):
    """Run each test in an empty directory, so a developer's `.env` never leaks in."""
    monkeypatch.chdir(tmp_path)


def env(**values) -> dict:
    """A production environment that is valid unless a test says otherwise."""
    return {"SECRET_KEY": SECRET, "DATABASE_URL": DB, **values}


def test_defaults_from_a_minimal_environment():
    settings = load_settings(environ=env())
    assert isinstance(settings, Settings)
    assert settings.env == "production"
    assert settings.sms_backend == "simulator"
    assert settings.worker_concurrency == 8
    assert settings.max_body_bytes == 65536
    assert settings.pacing is True
    assert settings.embedded_worker is False
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.database_url == DB


# ---- Twilio --------------------------------------------------------------------------------


def test_twilio_without_auth_token_is_refused():
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_settings(environ=env(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=ACCOUNT_SID))


def test_twilio_with_empty_auth_token_is_refused():
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_settings(
            environ=env(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN="")
        )


def test_twilio_without_account_sid_is_refused():
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        load_settings(environ=env(SMS_BACKEND="twilio", TWILIO_AUTH_TOKEN="token"))


def test_twilio_account_sid_must_look_like_one():
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        load_settings(
            environ=env(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="MG123", TWILIO_AUTH_TOKEN="t")
        )


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"DATABASE_URL": DB, "SMS_BACKEND": "twilio"})
    message = str(caught.value)
    assert "TWILIO_ACCOUNT_SID" in message
    assert "TWILIO_AUTH_TOKEN" in message
    assert "SECRET_KEY" in message


def test_complete_twilio_settings_load():
    settings = load_settings(
        environ=env(
            SMS_BACKEND="twilio",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN="token-123",
            TWILIO_API_BASE_URL="https://api.twilio.test",
            PUBLIC_BASE_URL="https://regulars.example",
        )
    )
    assert settings.sms_backend == "twilio"
    assert settings.twilio_auth_token == "token-123"
    assert settings.twilio_api_base_url == "https://api.twilio.test"
    assert settings.public_base_url == "https://regulars.example"


@pytest.mark.parametrize("value", ["twillio", "Twilio", "sms", "fake"])
def test_unknown_sms_backend_is_refused(value):
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        load_settings(environ=env(SMS_BACKEND=value))


# ---- SECRET_KEY ----------------------------------------------------------------------------


def test_missing_secret_key_outside_development_is_refused():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(environ={"DATABASE_URL": DB})


@pytest.mark.parametrize("value", ["changeme", "CHANGEME", "secret", "dev", "short-key"])
def test_placeholder_or_short_secret_key_is_refused(value):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(environ=env(SECRET_KEY=value))


def test_blank_secret_key_is_treated_as_missing():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(environ=env(SECRET_KEY="   "))


def test_development_generates_a_secret_key():
    first = load_settings(environ={"REGULARS_ENV": "development", "DATABASE_URL": DB})
    second = load_settings(environ={"REGULARS_ENV": "development", "DATABASE_URL": DB})
    assert first.is_development
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key  # random, not a fixed dev value


def test_development_keeps_a_given_secret_key():
    settings = load_settings(environ=env(REGULARS_ENV="development"))
    assert settings.secret_key == SECRET


# ---- types ---------------------------------------------------------------------------------


def test_numbers_and_booleans_are_coerced_from_strings():
    settings = load_settings(
        environ=env(
            WORKER_CONCURRENCY=" 16 ",
            WORKER_BATCH_SIZE="250",
            WORKER_POLL_SECONDS="0.25",
            LEASE_SECONDS="90",
            TWILIO_TIMEOUT_SECONDS="2.5",
            MAX_SEND_ATTEMPTS="3",
            MAX_BODY_BYTES="1024",
            TRUSTED_PROXIES="2",
            EMBEDDED_WORKER="yes",
            SEND_PACING="false",
        )
    )
    assert settings.worker_concurrency == 16
    assert settings.worker_batch_size == 250
    assert settings.worker_poll_seconds == 0.25
    assert settings.lease_seconds == 90
    assert settings.twilio_timeout_seconds == 2.5
    assert settings.max_send_attempts == 3
    assert settings.max_body_bytes == 1024
    assert settings.trusted_proxies == 2
    assert settings.embedded_worker is True
    assert settings.pacing is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("TRUE", True), ("on", True), ("yes", True)]
    + [("0", False), ("false", False), ("off", False), ("no", False)],
)
def test_boolean_spellings(value, expected):
    assert load_settings(environ=env(EMBEDDED_WORKER=value)).embedded_worker is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_CONCURRENCY", "lots"),
        ("WORKER_CONCURRENCY", "2.5"),
        ("MAX_BODY_BYTES", "64k"),
        ("TRUSTED_PROXIES", "1.5"),
        ("WORKER_POLL_SECONDS", "soon"),
    ],
)
def test_wrong_type_is_a_clear_config_error(name, value):
    with pytest.raises(ConfigError, match=f"{name} is invalid"):
        load_settings(environ=env(**{name: value}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_BATCH_SIZE", "0"),  # the dispatcher would claim nothing, ever
        ("WORKER_BATCH_SIZE", "-5"),
        ("LEASE_SECONDS", "0"),  # every send in flight would look abandoned at once
        ("MAX_BODY_BYTES", "0"),  # every request with a body refused
        ("MAX_SEND_ATTEMPTS", "0"),
        ("TWILIO_TIMEOUT_SECONDS", "0"),  # every send would be an unknown outcome
    ],
)
def test_non_positive_counts_are_refused(name, value):
    # README: "Regulars refuses to start with a clear message when a setting is ... wrong."
    with pytest.raises(ConfigError, match=name):
        load_settings(environ=env(**{name: value}))


def test_empty_environment_value_means_unset():
    settings = load_settings(environ=env(WORKER_CONCURRENCY="", SMS_BACKEND=""))
    assert settings.worker_concurrency == 8
    assert settings.sms_backend == "simulator"


def test_public_base_url_must_be_an_origin():
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings(environ=env(PUBLIC_BASE_URL="regulars.example"))


# ---- sources and overrides -----------------------------------------------------------------


def test_overrides_win_over_the_environment():
    overrides = {"WORKER_CONCURRENCY": 2, "sms_backend": "simulator"}
    settings = load_settings(overrides, environ=env(WORKER_CONCURRENCY="16", SMS_BACKEND="twilio"))
    assert settings.worker_concurrency == 2
    assert settings.sms_backend == "simulator"


def test_overrides_are_coerced_too():
    settings = load_settings(
        {"ignore_environment": True, "secret_key": SECRET, "database_url": DB},
        environ={},
    )
    assert settings.worker_concurrency == 8
    settings = load_settings(
        {
            "ignore_environment": True,
            "secret_key": SECRET,
            "database_url": DB,
            "worker_concurrency": "4",
            "pacing": "off",
        },
        environ={},
    )
    assert settings.worker_concurrency == 4
    assert settings.pacing is False


def test_ignore_environment_ignores_the_environment():
    hostile = {"SMS_BACKEND": "nonsense", "SECRET_KEY": "", "WORKER_CONCURRENCY": "x"}
    settings = load_settings(
        {"ignore_environment": True, "secret_key": SECRET, "database_url": DB}, environ=hostile
    )
    assert settings.sms_backend == "simulator"
    assert settings.worker_concurrency == 8


def test_ignore_environment_still_validates():
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_settings(
            {
                "ignore_environment": True,
                "secret_key": SECRET,
                "database_url": DB,
                "sms_backend": "twilio",
                "twilio_account_sid": ACCOUNT_SID,
            },
            environ={},
        )


def test_unknown_override_is_refused():
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"ignore_environment": True, "no_such_setting": 1}, environ={})


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text(
        f"SECRET_KEY={SECRET}\nDATABASE_URL={DB}\nWORKER_CONCURRENCY=3\nMAX_BODY_BYTES=2048\n"
    )
    settings = load_settings(environ={"WORKER_CONCURRENCY": "5"})
    assert settings.secret_key == SECRET
    assert settings.max_body_bytes == 2048  # from .env
    assert settings.worker_concurrency == 5  # the environment beats .env


def test_settings_are_immutable():
    settings = load_settings(environ=env())
    with pytest.raises(AttributeError):
        settings.secret_key = "other"  # type: ignore[misc]


def test_mistyped_boolean_is_refused():
    with pytest.raises(ConfigError, match="SEND_PACING is invalid"):
        load_settings(environ=env(SEND_PACING="flase"))


def test_the_vapid_subject_is_the_public_origin_unless_given():
    assert load_settings(environ=env(PUBLIC_BASE_URL="https://regulars.example/")).push_subject \
        == "https://regulars.example"  # fmt: skip
    assert load_settings(environ=env()).push_subject == "mailto:webpush@localhost"
    given = load_settings(environ=env(VAPID_SUBJECT="mailto:ops@bloom.example"))
    assert given.push_subject == "mailto:ops@bloom.example"
    with pytest.raises(ConfigError, match="VAPID_SUBJECT"):
        load_settings(environ=env(VAPID_SUBJECT="ops@bloom.example"))
