"""Saved accounts: environment first, atomic 0600 file, no silent overwrite, no token in repr."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ibmq_async.credentials import (
    Credentials,
    credentials_file,
    delete_credentials,
    load_credentials,
    read_saved_credentials,
    save_credentials,
)
from ibmq_async.exceptions import (
    IBMQAccountCredentialsInvalidFormat,
    IBMQAccountCredentialsInvalidToken,
    IBMQAccountCredentialsNotFound,
    IBMQAccountValueError,
)

SECRET = "s3cr3t-token-value"


@pytest.fixture(autouse=True)
def isolated_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home" / "credentials.json"
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(path))
    for name in ("QE_TOKEN", "QE_URL", "QE_HUB", "QE_GROUP", "QE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_saved_file_is_owner_only_and_round_trips(isolated_credentials: Path) -> None:
    saved = Credentials(token=SECRET, url="http://127.0.0.1:9/api", hub="h", group="g", project="p")
    path = save_credentials(saved)
    assert path == isolated_credentials == credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_saved_credentials() == saved
    assert json.loads(path.read_text())["ibmq"]["default_provider"] == "h/g/p"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".credentials-")]


def test_saving_again_without_overwrite_is_refused(isolated_credentials: Path) -> None:
    save_credentials(Credentials(token=SECRET, url="http://a/api"))
    with pytest.raises(IBMQAccountValueError, match="overwrite=True"):
        save_credentials(Credentials(token="other", url="http://b/api"))
    assert read_saved_credentials() == Credentials(token=SECRET, url="http://a/api")
    save_credentials(Credentials(token="other", url="http://b/api"), overwrite=True)
    loaded = read_saved_credentials()
    assert loaded is not None
    assert loaded.url == "http://b/api"


def test_environment_wins_over_the_saved_file(monkeypatch: pytest.MonkeyPatch) -> None:
    save_credentials(Credentials(token=SECRET, url="http://file/api"))
    monkeypatch.setenv("QE_TOKEN", "env-token")
    monkeypatch.setenv("QE_URL", "http://env/api")
    monkeypatch.setenv("QE_HUB", "h")
    monkeypatch.setenv("QE_GROUP", "g")
    monkeypatch.setenv("QE_PROJECT", "p")
    loaded = load_credentials()
    assert loaded.url == "http://env/api"
    assert loaded.default_provider == ("h", "g", "p")


def test_half_an_environment_account_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QE_TOKEN", "env-token")
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match="QE_URL"):
        load_credentials()


def test_nothing_saved_says_where_it_looked(isolated_credentials: Path) -> None:
    with pytest.raises(IBMQAccountCredentialsNotFound, match=str(isolated_credentials)):
        load_credentials()
    with pytest.raises(IBMQAccountCredentialsNotFound):
        delete_credentials()


def test_delete_removes_the_file(isolated_credentials: Path) -> None:
    save_credentials(Credentials(token=SECRET, url="http://a/api"))
    delete_credentials()
    assert not isolated_credentials.exists()


def test_malformed_file_names_the_problem(isolated_credentials: Path) -> None:
    isolated_credentials.parent.mkdir(parents=True)
    isolated_credentials.write_text("{not json")
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match="not valid JSON"):
        read_saved_credentials()
    isolated_credentials.write_text(
        json.dumps({"ibmq": {"token": SECRET, "default_provider": "x"}})
    )
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match="default_provider"):
        read_saved_credentials()


def test_token_never_in_repr_and_invalid_values_rejected() -> None:
    credentials = Credentials(token=SECRET, url="http://a/api")
    assert SECRET not in repr(credentials)
    with pytest.raises(IBMQAccountCredentialsInvalidToken):
        Credentials(token="  ")
    with pytest.raises(IBMQAccountValueError, match="together"):
        Credentials(token=SECRET, hub="h")
