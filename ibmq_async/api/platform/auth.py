"""IBM Cloud IAM: the platform API's credential (docs/platform.md §2).

:class:`IamAuth` exchanges an API key for a bearer token at ``{iam_url}/identity/token``
(form ``grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=...``), sends it as
``Authorization: Bearer <token>``, and renews it as every
:class:`~ibmq_async.api.auth.TokenAuth` does: at 80 % of the life IAM gives it
(``expires_in``), and once on a 401, one renewal shared by every concurrent caller.

The key and every token are registered with the session's redactor as soon as they are
known, so neither appears in a log line, a repr, an error or a request handed out.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx

from ibmq_async.api.auth import IssuedToken, TokenAuth
from ibmq_async.api.errors import validate_model_json
from ibmq_async.api.platform.urls import iam_token_url
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import ApiProtocolError, IBMQInputValueError
from ibmq_async.models.platform import IamToken

__all__ = ["APIKEY_GRANT", "IamAuth"]

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
"""The OAuth grant type of an IBM Cloud API key."""

_FORM = "application/x-www-form-urlencoded"


class IamAuth(TokenAuth):
    """The bearer token of an IBM Cloud API key, obtained from IAM and renewed.

    Args:
        session: The session the token requests go through (its redactor learns the key
            and the tokens).
        api_key: The IBM Cloud API key.
        iam_url: The IAM host (``https://iam.cloud.ibm.com``; ``/identity/token`` is
            appended).
        refresh_at: The fraction of a token's life after which it is renewed before use.
        retry: The retry policy of a token request (the session's if ``None``); asking
            for a token twice is harmless, so every failure the policy names is retried.

    Raises:
        IBMQInputValueError: The API key is empty or not a string.
    """

    def __init__(
        self,
        session: HttpSession,
        api_key: str,
        iam_url: str,
        *,
        refresh_at: float = 0.8,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise IBMQInputValueError("the API key must be a non-empty string")
        super().__init__(refresh_at=refresh_at)
        session.redactor.add(api_key)
        self._session = session
        self._form = urlencode({"grant_type": APIKEY_GRANT, "apikey": api_key}).encode()
        self._retry = retry
        self.token_url = iam_token_url(iam_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r}, renewals={self.renewals})"

    async def obtain(self) -> IssuedToken:
        """``POST {iam_url}/identity/token``: a new bearer token for the API key. Retried.

        Raises:
            ApiAuthenticationError: IAM refused the key (its code, e.g. ``BXNIM0415E``, is
                the error's ``error_code``).
            ApiProtocolError: The answer is not an IAM token (the error carries neither
                the answer nor its text).
            ApiError: IAM could not be reached (after retries).
        """
        issued_at = time.monotonic()
        response = await self._session.request(
            "POST",
            self.token_url,
            content=self._form,
            headers={"Content-Type": _FORM, "Accept": "application/json"},
            authenticated=False,
            idempotent=True,
            retry=self._retry,
        )
        try:
            token = validate_model_json(IamToken, response, what="IAM token answer")
        except ApiProtocolError as error:
            # The same message (it names fields, never values), without the answer.
            raise ApiProtocolError(
                error.message,
                status_code=response.status_code,
                method="POST",
                url=self.token_url,
            ) from None
        self._session.redactor.add(token.access_token)
        if token.refresh_token != "not_supported":
            self._session.redactor.add(token.refresh_token)
        if token.token_type.lower() != "bearer":
            raise ApiProtocolError(
                f"IAM issued a token of type {token.token_type!r}, not a bearer token",
                status_code=response.status_code,
                method="POST",
                url=self.token_url,
            )
        lifetime = float(token.expires_in) if token.expires_in > 0 else None
        return IssuedToken(token.access_token, issued_at=issued_at, lifetime=lifetime)

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"
