"""Listings that come a page at a time: await one for its items, or iterate over them.

A :class:`Pager` is what a listing endpoint returns. ``await pager`` gives the items the
caller asked for (up to ``limit``, fetched in as many pages as that takes);
``async for item in pager`` gives them lazily, one page request at a time. How pages are
asked for is the API's: a :data:`PageFetcher` gets the page size and the cursor the
previous page returned (``None`` first) and answers a :class:`Page` with the next cursor,
or none at the end (a page may be empty and still have a next one: its items were all
dropped as invalid). The classic API's cursor is LoopBack's creation-date window; an
offset/limit API's is the offset.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio

from ibmq_async.exceptions import ApiTimeoutError

__all__ = ["Page", "PageFetcher", "Pager"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: The items of the page, in order.
        next: The cursor of the next page, or ``None`` if this is the last.
    """

    items: list[T]
    next: Any = None


PageFetcher = Callable[[int, Any], Awaitable[Page[T]]]
"""``fetch(size, cursor)``: the page of at most ``size`` items at ``cursor``."""


class Pager(Generic[T]):
    """The items of a listing, up to a limit: awaitable, and async-iterable.

    Args:
        fetch: Fetches one page (a single call, retried as any call is).
        limit: The most items (``None``: all of them).
        page_size: The most items one request asks for.
        timeout: Seconds ``await pager`` may take in all (``None``: each page is bounded
            by its call's deadline only).
        what: What is listed, for the timeout's message.
    """

    def __init__(
        self,
        fetch: PageFetcher[T],
        *,
        limit: int | None = None,
        page_size: int = 50,
        timeout: float | None = None,
        what: str = "the listing",
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        self._fetch = fetch
        self._limit = limit
        self._page_size = page_size
        self._timeout = timeout
        self._what = what

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._what}, limit={self._limit})"

    async def pages(self) -> AsyncIterator[list[T]]:
        """Each page's items in turn, asking for no more than the limit leaves."""
        remaining = self._limit
        cursor: Any = None
        while remaining is None or remaining > 0:
            size = self._page_size if remaining is None else min(self._page_size, remaining)
            page = await self._fetch(size, cursor)
            items = page.items if remaining is None else page.items[:remaining]
            if items:
                yield items
            if remaining is not None:
                remaining -= len(items)
            if page.next is None:
                return
            cursor = page.next

    async def __aiter__(self) -> AsyncIterator[T]:
        async for items in self.pages():
            for item in items:
                yield item

    async def items(self) -> list[T]:
        """Every item up to the limit, within the timeout.

        Raises:
            ApiTimeoutError: The timeout expired first.
            ApiError: A page failed (after its call's retries).
        """
        with anyio.move_on_after(math.inf if self._timeout is None else self._timeout):
            return [item async for item in self]
        raise ApiTimeoutError(f"Listing {self._what} did not complete within {self._timeout:g} s")

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self.items().__await__()
