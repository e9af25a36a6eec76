"""Finding an instance by name: IBM Cloud Global Search (docs/platform.md, "Connecting").

An account's instances are the ``service_name:quantum-computing`` resources Global Search
answers for its API key, as qiskit-ibm-runtime 0.51 lists them. :class:`InstanceSearch`
pages through them once; :func:`resolve_instance` picks the one an instance name (or, with
no name, the only instance of the account) stands for.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import IBMQAccountCredentialsNotFound
from ibmq_async.models.platform import SearchItem, SearchResult

__all__ = [
    "DEFAULT_SEARCH_URL",
    "SEARCH_URL_VARIABLE",
    "InstanceSearch",
    "resolve_instance",
    "search_url",
]

DEFAULT_SEARCH_URL = "https://api.global-search-tagging.cloud.ibm.com"
SEARCH_URL_VARIABLE = "GLOBAL_SEARCH_URL"
"""The variable the IBM Cloud SDK (and so qiskit-ibm-runtime) reads for Global Search."""

_QUERY = "service_name:quantum-computing"
_PAGE = 100
_MAX_PAGES = 100


def search_url(given: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The Global Search host: ``given``, else ``GLOBAL_SEARCH_URL``, else IBM Cloud's."""
    url = given or (os.environ if environ is None else environ).get(SEARCH_URL_VARIABLE)
    return (url or DEFAULT_SEARCH_URL).rstrip("/")


class InstanceSearch(Resource):
    """``POST {search}/v3/resources/search`` for the account's quantum-computing instances.

    Args:
        session: The session of the client (logged in at IAM: Global Search takes the same
            bearer token).
        url: The Global Search host.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(self, session: HttpSession, url: str, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(session, retry=retry)
        self.url = url.rstrip("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    async def instances(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[SearchItem]:
        """Every quantum-computing instance of the account, page after page. Each page is
        retried (a search is harmless to repeat).

        Raises:
            ApiAuthenticationError: The token was refused.
            ApiProtocolError: An answer does not fit.
            ApiError: A call failed (after retries).
        """
        items: list[SearchItem] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            body: dict[str, object] = {"query": _QUERY, "fields": ["crn", "name", "doc", "tags"]}
            if cursor:
                body["search_cursor"] = cursor
            page = await self._model(
                SearchResult,
                "POST",
                f"{self.url}/v3/resources/search",
                what="Global Search answer",
                timeout=timeout,
                retry=retry,
                json_body=body,
                params={"limit": str(_PAGE)},
                idempotent=True,
            )
            items.extend(page.items)
            cursor = page.search_cursor
            if not cursor or not page.items:
                break
        return items


def resolve_instance(instance: str | None, found: Sequence[SearchItem]) -> str:
    """The CRN that ``instance`` (a name, or ``None`` for the account's only instance)
    stands for among the account's instances.

    Raises:
        IBMQAccountCredentialsNotFound: No instance has that name, several have it, or
            (with no name) the account has none or more than one; the message lists the
            account's instances.
    """
    names = ", ".join(sorted(f"{item.name!r}" for item in found)) or "none"
    if instance is None:
        if len(found) == 1:
            return found[0].crn
        raise IBMQAccountCredentialsNotFound(
            f"No instance was given and the account has {len(found)} instances ({names}): "
            "pass instance= (a CRN or an instance name)"
        )
    matches = [item for item in found if item.name == instance]
    if len(matches) == 1:
        return matches[0].crn
    if not matches:
        raise IBMQAccountCredentialsNotFound(
            f"The account has no instance named {instance!r}; its instances: {names}"
        )
    crns = ", ".join(item.crn for item in matches)
    raise IBMQAccountCredentialsNotFound(
        f"{len(matches)} instances of the account are named {instance!r} ({crns}): "
        "pass the CRN of the one to use"
    )
