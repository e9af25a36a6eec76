"""The platform part of the local service's configuration: users' API keys, instances and
rates, ``[[instances]]``, backends' instances."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ibmq_async.local import BackendConfig, LocalServiceConfig, UserConfig
from ibmq_async.local.config import DEFAULT_INSTANCE, InstanceConfig, check_crn

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct:inst::"


def test_the_default_user_has_a_generated_key_and_the_default_instance() -> None:
    first, second = LocalServiceConfig.default(), LocalServiceConfig.default()
    user = first.users[0]
    assert user.api_key
    assert user.api_key != second.users[0].api_key
    assert user.platform_instances == [DEFAULT_INSTANCE]
    assert user.jobs_per_minute == 5


def test_a_user_with_a_key_and_no_instance_gets_one_of_their_own() -> None:
    alice = UserConfig(token="t1", id="alice", api_key="k1")
    bob = UserConfig(token="t2", id="bob", api_key="k2")
    check_crn(alice.platform_instances[0])
    assert alice.platform_instances != bob.platform_instances
    assert UserConfig(token="t3").platform_instances == []


@pytest.mark.parametrize(
    "crn",
    [
        "crn:v1:bluemix:public:cloud-object-storage:global:a/x:y::",
        "crn:v1:bluemix:public:quantum-computing:us-east:acct:inst::",
        "not a crn",
    ],
)
def test_a_malformed_crn_is_refused(crn: str) -> None:
    with pytest.raises(ValidationError, match="not an instance CRN"):
        UserConfig(token="t", api_key="k", instances=[crn])


def test_keys_and_instances_must_be_unique_and_known() -> None:
    with pytest.raises(ValidationError, match="same api_key"):
        LocalServiceConfig(
            users=[UserConfig(token="a", api_key="k"), UserConfig(token="b", api_key="k")]
        )
    with pytest.raises(ValidationError, match="configured twice"):
        LocalServiceConfig(instances=[InstanceConfig(crn=CRN), InstanceConfig(crn=CRN)])
    with pytest.raises(ValidationError, match="unknown instance"):
        LocalServiceConfig(
            users=[UserConfig(token="a", api_key="k", instances=[CRN])],
            backends=[BackendConfig(name="b", device="simulator", instances=[DEFAULT_INSTANCE])],
        )
    with pytest.raises(ValidationError):
        UserConfig(token="a", jobs_per_minute=-1)
    with pytest.raises(ValidationError):
        LocalServiceConfig(rate_window_seconds=0)


def test_instances_have_names_plans_and_pricing_types() -> None:
    instance = InstanceConfig(crn=CRN, plan="Pay-As-You-Go", allocation_seconds=60)
    assert instance.display_name == "local-inst"
    assert instance.pricing_type == "paygo"
    assert instance.plan_id.startswith("plan-")
    assert InstanceConfig(crn=CRN, plan="premium").plan_id != instance.plan_id
    config = LocalServiceConfig(users=[UserConfig(token="a", api_key="k", instances=[CRN])])
    assert config.instance(CRN).plan == "open"
    assert config.instance(CRN).allocation_seconds is None


def test_the_platform_keys_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(
        f"""
rate_window_seconds = 2
session_max_ttl = 600

[[users]]
token = "t"
api_key = "key"
instances = ["{CRN}"]
jobs_per_minute = 0

[[instances]]
crn = "{CRN}"
name = "mine"
plan = "premium"
allocation_seconds = 100

[[backends]]
name = "sim"
device = "simulator"
instances = ["{CRN}"]
seconds_per_shot = 0.001
""",
        encoding="utf-8",
    )
    config = LocalServiceConfig.from_toml(path)
    assert config.rate_window_seconds == 2
    assert config.users[0].jobs_per_minute == 0
    assert config.instance(CRN).display_name == "mine"
    assert config.backends[0].instances == [CRN]
    assert config.backends[0].seconds_per_shot == 0.001
