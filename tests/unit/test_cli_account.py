"""Which account the ``ibmq-async`` commands use, on either channel, and the one line of a
platform login that failed where no test service fails on demand (an API root that does
not answer). The commands themselves run as subprocesses in
``tests/integration/test_cli_platform.py``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ibmq_async.cli_account import Login, _login, add_account_options, platform_login_error
from ibmq_async.credentials import (
    Credentials,
    PlatformCredentials,
    save_credentials,
    save_platform_credentials,
)
from ibmq_async.exceptions import ApiConnectionError

CRN = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct:inst::"
VARIABLES = ("QE_TOKEN", "QE_URL", "QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL",
             "QISKIT_IBM_CHANNEL", "IAM_URL")  # fmt: skip


@pytest.fixture(autouse=True)
def nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_account_options(parser)
    return parser.parse_args(argv)


def chosen(*argv: str) -> tuple[str | None, str, str]:
    """(where the key came from or None, the channel, the account's URL or instance)."""
    login, channel = _login(parse(*argv))
    if login is None:
        return None, channel, ""
    credentials = login.credentials
    value = credentials.instance if isinstance(credentials, PlatformCredentials) else None
    return login.source, channel, value or credentials.url or ""


def test_nothing_anywhere_is_the_embedded_service_of_the_channel_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert chosen() == (None, "ibm_quantum", "")
    assert chosen("--channel", "ibm_quantum_platform") == (None, "ibm_quantum_platform", "")
    assert chosen("--channel", "ibm_cloud") == (None, "ibm_quantum_platform", "")
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_quantum_platform")
    assert chosen() == (None, "ibm_quantum_platform", "")
    assert chosen("--channel", "ibm_quantum") == (None, "ibm_quantum", "")


def test_accounts_are_found_in_the_order_of_load_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save_platform_credentials(PlatformCredentials(token="saved-key", instance=CRN))
    assert chosen() == ("the saved account", "ibm_quantum_platform", CRN)
    save_credentials(Credentials(token="saved-token", url="http://saved/api"))
    assert chosen() == ("the saved account", "ibm_quantum", "http://saved/api")
    assert chosen("--channel", "ibm_quantum_platform")[2] == CRN
    other = CRN.replace("inst", "envinst")
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "env-key")
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", other)
    assert chosen() == ("QISKIT_IBM_TOKEN", "ibm_quantum_platform", other)
    monkeypatch.setenv("QE_TOKEN", "env-token")
    monkeypatch.setenv("QE_URL", "http://env/api")
    assert chosen() == ("QE_TOKEN", "ibm_quantum", "http://env/api")
    assert chosen("--channel", "ibm_quantum_platform") == (
        "QISKIT_IBM_TOKEN",
        "ibm_quantum_platform",
        other,
    )
    assert chosen("--local", "--channel", "ibm_quantum_platform") == (
        None,
        "ibm_quantum_platform",
        "",
    )


def test_platform_options_override_the_variables_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "env-key")
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", CRN)
    monkeypatch.setenv("QISKIT_IBM_URL", "http://env-root/api")
    other = CRN.replace("inst", "optinst")
    login, _ = _login(parse("--channel", "ibm_quantum_platform", "--instance", other))
    assert login is not None
    credentials = login.credentials
    assert isinstance(credentials, PlatformCredentials)
    assert (credentials.token, credentials.instance, credentials.url) == (
        "env-key",
        other,
        "http://env-root/api",
    )
    assert (login.source, login.origin("instance"), login.origin("url")) == (
        "QISKIT_IBM_TOKEN",
        "--instance",
        "QISKIT_IBM_URL",
    )
    login, _ = _login(parse("--channel", "ibm_quantum_platform", "--token", "opt-key"))
    assert login is not None
    assert (login.credentials.token, login.source) == ("opt-key", "--token")


def test_an_api_root_that_does_not_answer_names_it_and_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = PlatformCredentials(token="k", instance=CRN)
    login = Login(credentials, "--token", {"url": "QISKIT_IBM_URL", "iam_url": "IAM_URL"})
    api = "https://eu-de.quantum.cloud.ibm.com/api"
    iam = "https://iam.cloud.ibm.com"
    down = ApiConnectionError(
        "Connection failed (ConnectError: no route)", method="GET", url=f"{api}/v1/instances/usage"
    )
    line = str(platform_login_error(down, login, api, iam))
    assert line == (
        f"cannot reach {api} (Connection failed (ConnectError: no route)); check the URL "
        "(from the default of the instance's region) and that the service is running"
    )
    monkeypatch.setenv("QISKIT_IBM_URL", api)
    assert "(from QISKIT_IBM_URL)" in str(platform_login_error(down, login, api, iam))
    iam_down = ApiConnectionError("Connection failed", method="POST", url=f"{iam}/identity/token")
    assert str(platform_login_error(iam_down, login, api, iam)) == (
        f"cannot reach the IAM host {iam} (Connection failed); check the IAM URL (from the "
        "default) and that the service is running"
    )
    assert platform_login_error(RuntimeError("a bug"), login, api, iam) is None
