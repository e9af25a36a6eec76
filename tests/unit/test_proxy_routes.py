"""Which proxy a URL goes through: the original client's ``proxies=``, else the environment.

The same routes serve REST calls and status websockets on every event loop; the proxies
are exercised end to end through a real forward proxy in
``tests/integration/test_proxies.py``.
"""

from __future__ import annotations

import pytest

from ibmq_async.api.transports import ProxyRoutes
from ibmq_async.exceptions import IBMQInputValueError

ENVIRONMENT = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_the_original_clients_shape_routes_by_scheme_and_websockets_follow(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("HTTPS_PROXY", "http://ignored.test:1")
    routes = ProxyRoutes.from_settings({"urls": {"https": "http://proxy.test:3128"}})
    assert routes.configured
    assert routes.proxy_for("https://api.example.test/api/x") == "http://proxy.test:3128"
    assert routes.proxy_for("wss://api.example.test/ws/jobs/1") == "http://proxy.test:3128"
    assert routes.proxy_for("http://api.example.test/api") is None  # explicit: no env


def test_url_patterns_win_over_schemes(clean_environment: pytest.MonkeyPatch) -> None:
    routes = ProxyRoutes.from_settings(
        {"urls": {"all": "http://every.test:1", "https://special.test": "http://sp.test:2"}}
    )
    assert routes.proxy_for("https://special.test/a") == "http://sp.test:2"
    assert routes.proxy_for("http://other.test/a") == "http://every.test:1"


def test_ntlm_and_malformed_settings_are_refused() -> None:
    with pytest.raises(IBMQInputValueError, match="NTLM"):
        ProxyRoutes.from_settings(
            {"urls": {"https": "http://p"}, "username_ntlm": "u", "password_ntlm": "p"}
        )
    with pytest.raises(IBMQInputValueError, match="urls"):
        ProxyRoutes.from_settings({"urls": "http://p"})


def test_without_settings_the_environment_applies_with_no_proxy(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    clean_environment.setenv("NO_PROXY", "localhost, .internal.test,10.0.0.0/8,api.test:8443")
    routes = ProxyRoutes.from_settings(None)
    assert routes.configured
    assert routes.proxy_for("http://auth.example.test/api") == "http://127.0.0.1:9"
    assert routes.proxy_for("ws://auth.example.test/ws") == "http://127.0.0.1:9"
    assert routes.proxy_for("http://localhost:8080/api") is None
    assert routes.proxy_for("http://a.internal.test/api") is None
    assert routes.proxy_for("http://internal.test/api") is None
    assert routes.proxy_for("http://10.1.2.3/api") is None
    assert routes.proxy_for("http://api.test:8443/x") is None
    assert routes.proxy_for("http://api.test:8444/x") == "http://127.0.0.1:9"
    assert routes.proxy_for("https://auth.example.test/api") is None  # no HTTPS_PROXY


def test_all_proxy_and_a_wildcard_no_proxy(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("ALL_PROXY", "proxy.test:3128")
    assert ProxyRoutes.from_settings(None).proxy_for("https://x.test") == "http://proxy.test:3128"
    clean_environment.setenv("NO_PROXY", "*")
    assert ProxyRoutes.from_settings(None).proxy_for("https://x.test") is None


def test_nothing_configured_means_direct(clean_environment: pytest.MonkeyPatch) -> None:
    routes = ProxyRoutes.from_settings(None)
    assert not routes.configured
    assert routes.proxy_for("https://x.test") is None
    assert not ProxyRoutes.from_settings(None, trust_env=False).configured
