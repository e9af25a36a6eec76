"""Settings of the platform client: which CRN an instance name stands for, the pacer's caution."""

from __future__ import annotations

import pytest

from ibmq_async.api.platform.instances import resolve_instance, search_url
from ibmq_async.exceptions import IBMQAccountCredentialsNotFound
from ibmq_async.models.platform import SearchItem

ONE = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct:one::"
TWO = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct:two::"


def item(crn: str, name: str) -> SearchItem:
    return SearchItem(crn=crn, name=name, service_plan_unique_id="plan")


def test_a_name_picks_its_instance() -> None:
    assert resolve_instance("two", [item(ONE, "one"), item(TWO, "two")]) == TWO


def test_two_instances_of_one_name_ask_for_the_crn() -> None:
    with pytest.raises(
        IBMQAccountCredentialsNotFound, match="2 instances of the account are named 'x'"
    ):
        resolve_instance("x", [item(ONE, "x"), item(TWO, "x")])


def test_no_name_and_several_instances_ask_for_one() -> None:
    with pytest.raises(IBMQAccountCredentialsNotFound, match="has 2 instances \\('one', 'two'\\)"):
        resolve_instance(None, [item(ONE, "one"), item(TWO, "two")])


def test_the_search_host_comes_from_the_argument_the_variable_or_ibm_cloud() -> None:
    assert search_url("http://h/", {}) == "http://h"
    assert search_url(None, {"GLOBAL_SEARCH_URL": "http://env"}) == "http://env"
    assert search_url(None, {}) == "https://api.global-search-tagging.cloud.ibm.com"


def test_the_pacers_caution_is_a_setting_checked_when_set() -> None:
    from ibmq_async.api.platform.pacing import Pacer
    from ibmq_async.exceptions import IBMQInputValueError

    pacer = Pacer()
    pacer.caution = 0
    assert pacer.caution == 0.0
    with pytest.raises(IBMQInputValueError, match="caution must be a number of seconds"):
        pacer.caution = -1
