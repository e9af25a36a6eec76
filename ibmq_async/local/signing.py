"""Signed object storage URLs: a job's Qobj and result, without a token in the URL.

Like presigned object storage URLs, an upload or download URL carries an expiry and an
HMAC of (job id, purpose, expiry) under a secret kept in the database, so URLs stay
valid across restarts until they expire, and one job's URL opens nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["UrlSigner"]


class UrlSigner:
    """Signs and checks object storage URLs.

    Args:
        secret: The signing key.
        ttl: Lifetime of a signature, in seconds.
    """

    def __init__(self, secret: bytes, ttl: float) -> None:
        self._secret = secret
        self.ttl = ttl

    def sign(self, job_id: str, purpose: str, expires: int | None = None) -> tuple[int, str]:
        """``(expires, signature)`` letting a URL act on one job's object for a purpose."""
        if expires is None:
            expires = int(time.time() + self.ttl)
        message = f"{job_id}:{purpose}:{expires}".encode()
        return expires, hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]

    def verify(self, job_id: str, purpose: str, expires: str | None, signature: str | None) -> bool:
        """Whether a URL's ``expires`` and ``signature`` are valid for this job and purpose."""
        if not expires or not signature or not _is_small_decimal(expires):
            return False
        if not signature.isascii():
            return False
        if int(expires) < time.time():
            return False
        _, expected = self.sign(job_id, purpose, int(expires))
        return hmac.compare_digest(expected, signature)


def _is_small_decimal(text: str) -> bool:
    """Whether ``text`` is a plain ASCII decimal that fits a timestamp (``int()`` accepts it)."""
    return text.isascii() and text.isdecimal() and len(text) <= 20
