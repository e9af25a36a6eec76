"""Object storage (docs/protocol.md §2.3, §2.4): uploading a job's Qobj, downloading its
Qobj and its result.

The upload and download URLs are signed URLs the API hands out; the access token is sent
with them only when they are on the API's own origin. Uploads and downloads have longer
timeouts (:data:`~ibmq_async.api.session.STORAGE_TIMEOUT`).
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel

from ibmq_async.api.classic.jobs import JobUrls
from ibmq_async.api.classic.urls import ProjectUrls
from ibmq_async.api.errors import protocol_error, validate_model, validate_model_json
from ibmq_async.api.resource import Resource, within
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import STORAGE_TIMEOUT, HttpSession
from ibmq_async.exceptions import ApiError
from ibmq_async.models import PulseQobj, QasmQobj, Result, UrlResponse

__all__ = ["ObjectStorage", "StorageUrls", "encode_qobj"]

logger = logging.getLogger("ibmq_async")


def _json_default(value: Any) -> Any:
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    for cast in (float, str):
        with contextlib.suppress(TypeError, ValueError):
            return cast(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else str(k)): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify_keys(v) for v in value]
    return value


def encode_qobj(qobj: Mapping[str, Any] | QasmQobj | PulseQobj) -> bytes:
    """The Qobj as the JSON that is uploaded (complex numbers as ``[re, im]``, numpy as lists).

    A model is serialised by pydantic-core; a dict by ``json``, its keys turned into
    strings first only if ``json`` refuses one.
    """
    if isinstance(qobj, BaseModel):
        return qobj.model_dump_json(by_alias=True, exclude_unset=True).encode()
    try:
        text = json.dumps(qobj, default=_json_default, separators=(",", ":"))
    except TypeError:
        text = json.dumps(_stringify_keys(qobj), default=_json_default, separators=(",", ":"))
    return text.encode()


class StorageUrls:
    """The object-storage endpoints of one hub/group/project's jobs."""

    def __init__(self, project: ProjectUrls) -> None:
        self._jobs = JobUrls(project)

    def result_link(self, job_id: str) -> str:
        return f"{self._jobs.job(job_id)}/resultDownloadUrl"

    def result_downloaded(self, job_id: str) -> str:
        return f"{self._jobs.job(job_id)}/resultDownloaded"

    def qobj_link(self, job_id: str) -> str:
        return f"{self._jobs.job(job_id)}/jobDownloadUrl"


class ObjectStorage(Resource):
    """Qobj uploads, Qobj and result downloads of one hub/group/project's jobs.

    Args:
        session: The session of the connection.
        project: Where the project's endpoints are.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(
        self, session: HttpSession, project: ProjectUrls, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(session, retry=retry)
        self._api_url = project.api
        self.urls = StorageUrls(project)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self._api_url!r})"

    def _same_origin(self, url: str) -> bool:
        a, b = httpx.URL(url), httpx.URL(self._api_url)
        return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)

    async def upload(
        self,
        upload_url: str,
        qobj: Mapping[str, Any] | QasmQobj | PulseQobj | bytes,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``PUT <uploadUrl>``: upload the Qobj (step 2 of 3). Retried (a PUT is idempotent)."""
        content = qobj if isinstance(qobj, bytes) else encode_qobj(qobj)
        await self._send(
            "PUT",
            upload_url,
            content=content,
            headers={"Content-Type": "application/json"},
            authenticated=self._same_origin(upload_url),
            base_timeout=STORAGE_TIMEOUT,
            timeout=timeout,
            retry=retry,
        )

    async def _download(self, url: str, *, retry: RetryPolicy | None) -> httpx.Response:
        return await self._send(
            "GET",
            url,
            authenticated=self._same_origin(url),
            base_timeout=STORAGE_TIMEOUT,
            timeout=None,
            retry=retry,
        )

    async def _link(self, url: str, *, what: str, retry: RetryPolicy | None) -> str:
        link = await self._model(UrlResponse, "GET", url, what=what, timeout=None, retry=retry)
        return link.url

    async def result(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> Result:
        """The job's result: ``resultDownloadUrl``, the download, then ``resultDownloaded``.

        Each step is retried; the acknowledgement's failure is only logged.

        Raises:
            ApiStatusError: The result is not available (e.g. the job is not done).
            ApiProtocolError: The document is not a valid result.
            ApiTimeoutError: ``timeout`` expired.
        """

        async def download() -> Result:
            url = await self._link(
                self.urls.result_link(job_id), what="result download URL", retry=retry
            )
            result = validate_model_json(
                Result, await self._download(url, retry=retry), what="result"
            )
            try:
                await self._send(
                    "POST",
                    self.urls.result_downloaded(job_id),
                    idempotent=True,
                    timeout=None,
                    retry=retry,
                )
            except ApiError as exc:
                logger.warning("Could not acknowledge the result of job %s: %s", job_id, exc)
            return result

        return await within(timeout, f"Downloading the result of job {job_id}", download)

    async def qobj(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> QasmQobj | PulseQobj:
        """The job's Qobj: ``jobDownloadUrl``, then the download. Retried.

        Raises:
            ApiProtocolError: The document is not a Qobj.
            ApiTimeoutError: ``timeout`` expired.
        """

        async def download() -> QasmQobj | PulseQobj:
            url = await self._link(
                self.urls.qobj_link(job_id), what="Qobj download URL", retry=retry
            )
            response = await self._download(url, retry=retry)
            data = self._session.decode_json(response)
            if not isinstance(data, dict):
                raise protocol_error("The Qobj is not a JSON object", response)
            if data.get("type") == "PULSE":
                return validate_model(PulseQobj, data, what="Qobj", response=response)
            return validate_model(QasmQobj, data, what="Qobj", response=response)

        return await within(timeout, f"Downloading the Qobj of job {job_id}", download)
