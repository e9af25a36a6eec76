"""IBM Cloud IAM for the platform API: API keys for signed JWT access tokens, and the check
of the ``Authorization`` header of every platform request.

``POST /identity/token`` with ``grant_type=urn:ibm:params:oauth:grant-type:apikey`` and an
``apikey`` answers a JWT signed with RS256 (the algorithm IAM uses and qiskit-ibm-runtime's
token manager decodes), with ``iat`` and ``exp``: the client refreshes it at 80 % of its
life. The signing key is made at the first start and kept in the database, so tokens stay
valid across restarts. A request then carries ``Authorization: Bearer <token>``; a missing,
forged (bad signature, other issuer) or expired token is a 401. ``Authorization: apikey
<key>``, the client's fallback when it cannot get a token, is accepted too.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ibmq_async.local.auth import User, user_with_secret
from ibmq_async.local.config import crn_account
from ibmq_async.local.platform.errors import ErrorCodes, IamApiError, PlatformApiError
from ibmq_async.local.store import Store
from ibmq_async.models.platform import IamToken

__all__ = ["APIKEY_GRANT", "ISSUER", "Iam"]

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
ISSUER = "ibmq-async-local/identity"
_ALGORITHM = "RS256"
_KEY_META = "iam_signing_key"


class Iam:
    """Issues and checks the platform API's access tokens.

    Args:
        users: The users of the service (those with an ``api_key`` can log in).
        store: Where the signing key is kept.
        ttl: Lifetime of a token in seconds.
        clock: The wall clock (``time.time``); replaceable in tests.
    """

    def __init__(
        self,
        users: Iterable[User],
        store: Store,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = [user for user in users if user.api_key]
        self._by_id = {user.id: user for user in self.users}
        self.ttl = ttl
        self._clock = clock
        pem = store.get_meta(_KEY_META)
        if pem is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
            store.set_meta(_KEY_META, pem)
        private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        self._private = private
        self._public = private.public_key()
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(der).hexdigest()[:16]

    def user_for_api_key(self, api_key: str) -> User | None:
        """The user whose API key this is (constant-time comparisons), if any."""
        return user_with_secret(self.users, lambda user: user.api_key, api_key)

    def issue(self, form: Mapping[str, str]) -> IamToken:
        """Answer a token request (the form of ``POST /identity/token``).

        Raises:
            IamApiError: 400 if the grant type is not the API key one, the key is missing,
                or no user has it.
        """
        grant = form.get("grant_type")
        if not grant:
            raise IamApiError(400, "BXNIM0308E", "No grant type was provided in the request.")
        if grant != APIKEY_GRANT:
            raise IamApiError(400, "BXNIM0309E", f"The grant type {grant!r} is not supported.")
        api_key = form.get("apikey")
        if not api_key:
            raise IamApiError(400, "BXNIM0103E", "No API key was provided in the request.")
        user = self.user_for_api_key(api_key)
        if user is None:
            raise IamApiError(400, "BXNIM0415E", "Provided API key could not be found.")
        now = int(self._clock())
        expires = now + max(round(self.ttl), 1)
        account = crn_account(user.instances[0]) if user.instances else user.id
        claims: dict[str, Any] = {
            "iam_id": f"IBMid-{user.id}",
            "id": f"IBMid-{user.id}",
            "realmid": "IBMid",
            "jti": secrets.token_hex(16),
            "identifier": user.id,
            "sub": user.email or user.id,
            "sub_type": "user",
            "account": {"valid": True, "bss": account},
            "iat": now,
            "exp": expires,
            "iss": ISSUER,
            "grant_type": APIKEY_GRANT,
            "scope": "ibm openid",
            "client_id": "default",
            "acr": 1,
            "amr": ["pwd"],
        }
        token = jwt.encode(
            claims, self._private, algorithm=_ALGORITHM, headers={"kid": self.key_id}
        )
        return IamToken(access_token=token, expires_in=expires - now, expiration=expires)

    def authenticate(self, authorization: str | None) -> User:
        """The user of an ``Authorization`` header (``Bearer <JWT>`` or ``apikey <key>``).

        Raises:
            PlatformApiError: 401 if the header is missing, the token is forged or expired,
                or the key unknown.
        """
        if not authorization:
            raise PlatformApiError.unauthorized(
                "Authorization is required: 'Authorization: Bearer <IAM access token>'"
            )
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "apikey" and credential:
            user = self.user_for_api_key(credential)
            if user is None:
                raise PlatformApiError.unauthorized("The API key is not valid")
            return user
        if scheme.lower() != "bearer" or not credential:
            raise PlatformApiError.unauthorized(
                "The Authorization header must be 'Bearer <IAM access token>'"
            )
        try:
            claims = jwt.decode(
                credential,
                self._public,
                algorithms=[_ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "identifier"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise PlatformApiError.unauthorized(
                "The access token has expired", ErrorCodes.TOKEN_EXPIRED
            ) from None
        except jwt.PyJWTError:
            raise PlatformApiError.unauthorized("The access token is not valid") from None
        if claims["exp"] <= self._clock():
            raise PlatformApiError.unauthorized(
                "The access token has expired", ErrorCodes.TOKEN_EXPIRED
            )
        user = self._by_id.get(str(claims["identifier"]))
        if user is None:
            raise PlatformApiError.unauthorized("The access token is not valid")
        return user
