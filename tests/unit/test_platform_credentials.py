"""The platform channel's account: CRNs parsed and checked, the API and IAM URLs as
qiskit-ibm-runtime picks them, the account saved beside the classic one (0600, atomic),
loaded from QISKIT_IBM_* and, read-only, from qiskit-ibm-runtime's own file by its rules,
and the API key never in a repr or an error."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from ibmq_async.credentials import (
    Credentials,
    PlatformCredentials,
    check_channel,
    credentials_file,
    default_platform_url,
    delete_credentials,
    delete_platform_credentials,
    load_account_credentials,
    load_credentials,
    load_platform_credentials,
    parse_crn,
    read_platform_credentials_from_environment,
    read_qiskit_runtime_credentials,
    read_saved_credentials,
    read_saved_platform_credentials,
    save_credentials,
    save_platform_credentials,
)
from ibmq_async.exceptions import (
    IBMQAccountCredentialsInvalidFormat,
    IBMQAccountCredentialsInvalidToken,
    IBMQAccountCredentialsNotFound,
    IBMQAccountValueError,
)

SECRET = "platform-api-key-s3cr3t"
US = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct123:inst-456::"
EU = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct123:inst-789::"
STAGING = "crn:v1:staging:public:quantum-computing:us-east:a/acct123:inst-000::"
VARIABLES = (
    "QISKIT_IBM_TOKEN",
    "QISKIT_IBM_INSTANCE",
    "QISKIT_IBM_URL",
    "QISKIT_IBM_CHANNEL",
    "IAM_URL",
    "QE_TOKEN",
    "QE_URL",
    "QE_HUB",
    "QE_GROUP",
    "QE_PROJECT",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own: no file or variable of the machine's is read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(home / ".ibmq_async" / "creds.json"))
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


def runtime_file(home: Path, accounts: dict[str, dict[str, Any]]) -> Path:
    """qiskit-ibm-runtime's accounts file, as its ``save_config`` writes it."""
    path = home / ".qiskit" / "qiskit-ibm.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(accounts, sort_keys=True, indent=4), encoding="utf-8")
    return path


def runtime_account(instance: str = US, **extra: Any) -> dict[str, Any]:
    """One account as qiskit-ibm-runtime's ``Account.to_saved_format`` writes it."""
    return {
        "channel": "ibm_quantum_platform",
        "instance": instance,
        "private_endpoint": False,
        "token": SECRET,
        "url": "https://cloud.ibm.com",
        "verify": True,
        **extra,
    }


# --- CRNs -----------------------------------------------------------------------------------


def test_a_crn_is_parsed_field_by_field() -> None:
    crn = parse_crn(f"  {EU}  ")
    assert crn.cname == "bluemix"
    assert crn.ctype == "public"
    assert crn.service_name == "quantum-computing"
    assert crn.region == crn.location == "eu-de"
    assert crn.scope == "a/acct123"
    assert crn.account_id == "acct123"
    assert crn.service_instance == "inst-789"
    assert crn.resource_type == crn.resource == ""
    assert str(crn) == EU


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("crn:v1:bluemix:public:quantum-computing:us-east:a/x:y", "has 8"),
        ("crn:v2:bluemix:public:quantum-computing:us-east:a/x:y::", "version is 'v2'"),
        ("crn:v1:bluemix:public:quantum-computing::a/x:y::", "the location field is empty"),
        ("crn:v1:bluemix:public:quantum-computing:us-east:a/x:::", "service-instance field"),
        ("crn:v1::public:quantum-computing:us-east:a/x:y::", "the cname field is empty"),
        ("crn:v1:bluemix:public:cloud-object-storage:global:a/x:y::", "not an IBM Quantum"),
        ("crn:v1:bluemix:public:quantum-computing:us-east:acct:y::", "scope 'acct'"),
        ("crn:v1:bluemix:public:quantum-computing:US East:a/x:y::", "location 'US East'"),
        ("crn:v1:bluemix:public:quantum-computing:us-east:a/x:y z::", "contains whitespace"),
        ("urn:v1:bluemix:public:quantum-computing:us-east:a/x:y::", "must start with 'crn:'"),
    ],
)
def test_a_bad_crn_names_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(IBMQAccountValueError, match=fragment):
        parse_crn(text)


def test_an_instance_that_looks_like_a_crn_must_be_one() -> None:
    with pytest.raises(IBMQAccountValueError, match="has 3"):
        PlatformCredentials(token=SECRET, instance="crn:v1:oops")
    by_name = PlatformCredentials(token=SECRET, instance="  my instance ")
    assert by_name.instance == "my instance"
    assert by_name.crn is None


# --- URLs -----------------------------------------------------------------------------------


def test_the_api_url_defaults_from_the_crns_region() -> None:
    # qiskit-ibm-runtime's default_runtime_url_resolver("https://cloud.ibm.com", crn) gives
    # these roots followed by /v1.
    assert default_platform_url(US) == "https://quantum.cloud.ibm.com/api"
    assert default_platform_url(EU) == "https://eu-de.quantum.cloud.ibm.com/api"
    assert default_platform_url("my instance") == "https://quantum.cloud.ibm.com/api"
    assert default_platform_url(EU, private=True) == (
        "https://private.eu-de.quantum.cloud.ibm.com/api"
    )
    assert PlatformCredentials(token=SECRET, instance=EU).api_url == (
        "https://eu-de.quantum.cloud.ibm.com/api"
    )
    assert PlatformCredentials(token=SECRET).api_url == "https://quantum.cloud.ibm.com/api"


def test_a_given_url_is_the_api_root() -> None:
    local = PlatformCredentials(token=SECRET, instance=US, url="http://127.0.0.1:8080/api/")
    assert local.api_url == "http://127.0.0.1:8080/api"
    versioned = PlatformCredentials(token=SECRET, url="http://127.0.0.1:8080/api/v1")
    assert versioned.api_url == "http://127.0.0.1:8080/api"


def test_an_ibm_cloud_url_stands_for_the_platform_under_it() -> None:
    # What qiskit-ibm-runtime takes as url (and saves): the IBM Cloud URL.
    assert PlatformCredentials(token=SECRET, instance=EU, url="https://cloud.ibm.com").api_url == (
        "https://eu-de.quantum.cloud.ibm.com/api"
    )
    staging = PlatformCredentials(token=SECRET, instance=US, url="https://test.cloud.ibm.com")
    assert staging.api_url == "https://quantum.test.cloud.ibm.com/api"


@pytest.mark.parametrize("url", ["", "quantum.cloud.ibm.com/api", "ftp://host/api", 3])
def test_a_bad_url_is_refused(url: Any) -> None:
    with pytest.raises(IBMQAccountValueError, match="url must be"):
        PlatformCredentials(token=SECRET, url=url)


def test_an_error_about_a_url_does_not_show_its_password() -> None:
    with pytest.raises(IBMQAccountValueError) as caught:
        PlatformCredentials(token=SECRET, url="gopher://user:hunter2@host/api")
    assert "hunter2" not in str(caught.value)
    assert "***@host" in str(caught.value)


def test_the_iam_url_given_then_iam_url_variable_then_ibm_clouds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = PlatformCredentials(token=SECRET, instance=US)
    assert account.resolved_iam_url() == "https://iam.cloud.ibm.com"
    assert PlatformCredentials(token=SECRET, instance=STAGING).resolved_iam_url() == (
        "https://iam.test.cloud.ibm.com"
    )
    assert PlatformCredentials(token=SECRET, private_endpoint=True).resolved_iam_url() == (
        "https://private.iam.cloud.ibm.com"
    )
    monkeypatch.setenv("IAM_URL", "http://127.0.0.1:8080/")
    assert account.resolved_iam_url() == "http://127.0.0.1:8080"
    given = PlatformCredentials(token=SECRET, iam_url="http://iam.local:9/identity/token")
    assert given.iam_url == "http://iam.local:9"
    assert given.resolved_iam_url() == "http://iam.local:9"
    assert account.resolved_iam_url({}) == "https://iam.cloud.ibm.com"
    monkeypatch.setenv("IAM_URL", "nonsense")
    with pytest.raises(IBMQAccountValueError, match="IAM_URL must be"):
        account.resolved_iam_url()


# --- the account ----------------------------------------------------------------------------


def test_channels_and_their_alias() -> None:
    assert check_channel("ibm_quantum_platform") == "ibm_quantum_platform"
    assert check_channel("ibm_cloud") == "ibm_quantum_platform"
    assert check_channel("ibm_quantum") == "ibm_quantum"
    with pytest.raises(IBMQAccountValueError, match="unknown channel 'local'"):
        check_channel("local")
    assert PlatformCredentials(token=SECRET, channel="ibm_cloud").channel == "ibm_cloud"
    with pytest.raises(IBMQAccountValueError, match="not the platform channel"):
        PlatformCredentials(token=SECRET, channel="ibm_quantum")


def test_the_api_key_never_shows() -> None:
    account = PlatformCredentials(
        token=SECRET, instance=US, proxies={"urls": {"https": "http://u:pw@proxy:3128"}}
    )
    assert SECRET not in repr(account)
    assert "pw@" not in repr(account)
    assert "inst-456" in repr(account)
    with pytest.raises(IBMQAccountCredentialsInvalidToken) as caught:
        PlatformCredentials(token="   ")
    assert "API key" in str(caught.value)


def test_with_instance_resolves_a_name() -> None:
    by_name = PlatformCredentials(token=SECRET, instance="my-instance")
    resolved = by_name.with_instance(EU)
    assert resolved.crn is not None
    assert resolved.crn.region == "eu-de"
    assert resolved.api_url == "https://eu-de.quantum.cloud.ibm.com/api"
    assert resolved.token == SECRET


# --- saved beside the classic account -------------------------------------------------------


def test_saved_beside_the_classic_account_owner_only(isolated: Path) -> None:
    classic = Credentials(token="classic-token", url="http://127.0.0.1:9/api")
    platform = PlatformCredentials(
        token=SECRET, instance=US, url="http://127.0.0.1:9/api", iam_url="http://127.0.0.1:9"
    )
    save_credentials(classic)
    path = save_platform_credentials(platform)
    assert path == credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_saved_credentials() == classic
    assert read_saved_platform_credentials() == platform
    document = json.loads(path.read_text())
    assert set(document) == {"ibmq", "ibm_quantum_platform"}
    assert document["ibm_quantum_platform"]["instance"] == US
    # Saving the classic account again keeps the platform one.
    save_credentials(Credentials(token="classic-2", url="http://b/api"), overwrite=True)
    assert read_saved_platform_credentials() == platform
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".credentials-")]


def test_saving_again_without_overwrite_is_refused() -> None:
    save_platform_credentials(PlatformCredentials(token=SECRET, instance=US))
    with pytest.raises(IBMQAccountValueError, match="overwrite=True"):
        save_platform_credentials(PlatformCredentials(token="other", instance=EU))
    save_platform_credentials(PlatformCredentials(token="other", instance=EU), overwrite=True)
    saved = read_saved_platform_credentials()
    assert saved is not None
    assert saved.instance == EU


def test_deleting_one_channel_keeps_the_other() -> None:
    save_credentials(Credentials(token="classic-token", url="http://a/api"))
    save_platform_credentials(PlatformCredentials(token=SECRET, instance=US))
    delete_platform_credentials()
    assert read_saved_platform_credentials() is None
    assert read_saved_credentials() is not None
    with pytest.raises(IBMQAccountCredentialsNotFound, match="no platform account"):
        delete_platform_credentials()
    save_platform_credentials(PlatformCredentials(token=SECRET, instance=US))
    delete_credentials()
    assert read_saved_platform_credentials() is not None
    delete_platform_credentials()
    assert not credentials_file().exists()


def test_a_malformed_saved_account_names_the_key_not_the_secret() -> None:
    path = credentials_file()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"ibm_quantum_platform": {"token": SECRET, "instance": 5}}))
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match="'instance' must be a string"):
        read_saved_platform_credentials()
    path.write_text(json.dumps({"ibm_quantum_platform": {"token": SECRET, "instance": "crn:x"}}))
    with pytest.raises(IBMQAccountCredentialsInvalidFormat) as caught:
        read_saved_platform_credentials()
    assert str(path) in str(caught.value)
    assert SECRET not in str(caught.value)
    # A file that cannot be read is never overwritten.
    path.write_text("{broken")
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match="not valid JSON"):
        save_platform_credentials(PlatformCredentials(token=SECRET))
    assert path.read_text() == "{broken"


# --- the environment ------------------------------------------------------------------------


def test_the_qiskit_ibm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_platform_credentials_from_environment() is None
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", EU)  # alone: ignored, as qiskit-ibm-runtime does
    assert read_platform_credentials_from_environment() is None
    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET)
    monkeypatch.setenv("QISKIT_IBM_URL", "http://127.0.0.1:8080/api")
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_cloud")
    account = read_platform_credentials_from_environment()
    assert account == PlatformCredentials(
        token=SECRET, instance=EU, url="http://127.0.0.1:8080/api", channel="ibm_cloud"
    )
    monkeypatch.setenv("QISKIT_IBM_URL", "https://cloud.ibm.com")
    account = read_platform_credentials_from_environment()
    assert account is not None
    assert account.api_url == "https://eu-de.quantum.cloud.ibm.com/api"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("QISKIT_IBM_CHANNEL", "ibm_quantum", "the classic channel reads QE_TOKEN"),
        ("QISKIT_IBM_CHANNEL", "local", "QISKIT_IBM_CHANNEL is 'local'"),
        ("QISKIT_IBM_INSTANCE", "crn:v1:broken", "QISKIT_IBM_INSTANCE: 'crn:v1:broken' is not"),
        ("QISKIT_IBM_URL", "not a url", "QISKIT_IBM_URL: url must be an http"),
    ],
)
def test_bad_variables_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET)
    monkeypatch.setenv(name, value)
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match=fragment) as caught:
        read_platform_credentials_from_environment()
    assert SECRET not in str(caught.value)


# --- qiskit-ibm-runtime's saved accounts ----------------------------------------------------


def test_qiskit_runtimes_default_account_is_read(isolated: Path) -> None:
    path = runtime_file(
        isolated,
        {
            "default-ibm-quantum-platform": runtime_account(EU),
            "legacy": {"channel": "ibm_quantum", "token": "x", "url": "https://auth"},
        },
    )
    before = path.stat().st_mtime_ns
    account = read_qiskit_runtime_credentials()
    assert account == PlatformCredentials(
        token=SECRET, instance=EU, url="https://cloud.ibm.com", channel="ibm_quantum_platform"
    )
    assert account is not None
    assert account.api_url == "https://eu-de.quantum.cloud.ibm.com/api"
    assert account.resolved_iam_url() == "https://iam.cloud.ibm.com"
    assert path.stat().st_mtime_ns == before  # read, never written


def test_qiskit_runtimes_rules_choose_the_account(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime_file(
        isolated,
        {
            "default-ibm-quantum-platform": runtime_account(US),
            "default-ibm-cloud": runtime_account(EU, channel="ibm_cloud"),
            "work": runtime_account(STAGING, is_default_account=True),
            "other": runtime_account(EU, channel="ibm_cloud", url="https://test.cloud.ibm.com"),
        },
    )

    def instance(**kwargs: Any) -> str | None:
        account = read_qiskit_runtime_credentials(**kwargs)
        assert account is not None
        return account.instance

    assert instance() == STAGING  # is_default_account wins
    assert instance(name="default-ibm-cloud") == EU
    assert instance(channel="ibm_cloud") == EU  # the channel's default name
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_cloud")
    assert instance() == STAGING  # a marked default of any channel comes first
    with pytest.raises(IBMQAccountCredentialsNotFound, match="no account named 'nope'"):
        read_qiskit_runtime_credentials(name="nope")


def test_without_a_marked_default_the_channels_default_name_then_any(isolated: Path) -> None:
    runtime_file(
        isolated, {"mine": runtime_account(EU), "default-ibm-quantum-platform": runtime_account(US)}
    )
    account = read_qiskit_runtime_credentials()
    assert account is not None
    assert account.instance == US
    runtime_file(isolated, {"mine": runtime_account(EU)})
    account = read_qiskit_runtime_credentials()
    assert account is not None
    assert account.instance == EU
    runtime_file(isolated, {"legacy": {"channel": "ibm_quantum", "token": "x"}})
    assert read_qiskit_runtime_credentials() is None


def test_a_private_endpoint_and_proxies_are_kept(isolated: Path) -> None:
    proxies = {"urls": {"https": "http://proxy:3128"}}
    runtime_file(
        isolated,
        {
            "default-ibm-quantum-platform": runtime_account(
                EU, private_endpoint=True, proxies=proxies
            )
        },
    )
    account = read_qiskit_runtime_credentials()
    assert account is not None
    assert account.private_endpoint
    assert account.proxies == proxies
    assert account.api_url == "https://private.eu-de.quantum.cloud.ibm.com/api"


def test_a_malformed_runtime_file_names_the_file(isolated: Path) -> None:
    path = isolated / ".qiskit" / "qiskit-ibm.json"
    path.parent.mkdir()
    path.write_text("[1, 2")
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match=str(path)):
        read_qiskit_runtime_credentials()
    runtime_file(isolated, {"default-ibm-quantum-platform": {"channel": "ibm_quantum_platform"}})
    with pytest.raises(IBMQAccountCredentialsInvalidFormat, match="qiskit-ibm-runtime's accounts"):
        read_qiskit_runtime_credentials()


# --- which account loads --------------------------------------------------------------------


def test_the_environment_then_the_file_then_qiskit_runtimes(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IBMQAccountCredentialsNotFound) as caught:
        load_platform_credentials()
    assert "qiskit-ibm.json" in str(caught.value)
    assert str(credentials_file()) in str(caught.value)
    runtime_file(isolated, {"default-ibm-quantum-platform": runtime_account(STAGING)})
    assert load_platform_credentials().instance == STAGING
    save_platform_credentials(PlatformCredentials(token="mine", instance=US))
    assert load_platform_credentials().instance == US
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "from-env")
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", EU)
    assert load_platform_credentials().instance == EU


def test_load_account_keeps_the_classic_account_first(monkeypatch: pytest.MonkeyPatch) -> None:
    save_platform_credentials(PlatformCredentials(token=SECRET, instance=US))
    assert isinstance(load_account_credentials(), PlatformCredentials)
    save_credentials(Credentials(token="classic-token", url="http://a/api"))
    assert isinstance(load_account_credentials(), Credentials)
    assert load_credentials() == load_account_credentials("ibm_quantum")
    assert isinstance(load_account_credentials("ibm_cloud"), PlatformCredentials)
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_quantum_platform")
    assert isinstance(load_account_credentials(), PlatformCredentials)
    monkeypatch.delenv("QISKIT_IBM_CHANNEL")
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "from-env")
    assert isinstance(load_account_credentials(), PlatformCredentials)
    monkeypatch.setenv("QE_TOKEN", "classic-env")
    monkeypatch.setenv("QE_URL", "http://env/api")
    assert isinstance(load_account_credentials(), Credentials)
    with pytest.raises(IBMQAccountValueError, match="unknown channel"):
        load_account_credentials("quantum")


def test_nothing_anywhere_says_where_it_looked() -> None:
    with pytest.raises(IBMQAccountCredentialsNotFound) as caught:
        load_account_credentials()
    assert "QISKIT_IBM_TOKEN" in str(caught.value)
    assert "QE_TOKEN" in str(caught.value)
    assert os.fspath(credentials_file()) in str(caught.value)
