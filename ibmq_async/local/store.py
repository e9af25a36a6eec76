"""SQLite persistence of the local service: jobs, Qobjs, results, tokens and calibrations,
and the platform API's jobs (params, results), sessions and usage charges.

One connection in WAL mode with ``synchronous=NORMAL``: a commit is a write to the WAL
without an fsync (a crash of the process loses nothing committed; a power loss may lose
the last commits). Every call commits before it returns, and the connection is shared
by the threads of the service behind a lock, so writes are short and in order.

A job row keeps the fields the service indexes on (user, backend, status, queue order,
idempotency key) as columns and everything else of the job record as JSON; the Qobj and
the result are blobs read only when asked for.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JobRow", "PlatformJobRow", "Store"]

_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    queue_seq INTEGER,
    idempotency_key TEXT,
    record TEXT NOT NULL,
    qobj BLOB,
    result BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
    ON jobs (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_seq ON jobs (seq);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS properties (
    backend TEXT NOT NULL,
    last_update TEXT NOT NULL,
    document BLOB NOT NULL,
    PRIMARY KEY (backend, last_update)
);
CREATE TABLE IF NOT EXISTS platform_jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    instance TEXT NOT NULL,
    user_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    queue_seq INTEGER,
    record TEXT NOT NULL,
    params BLOB,
    result BLOB
);
CREATE INDEX IF NOT EXISTS platform_jobs_seq ON platform_jobs (seq);
CREATE TABLE IF NOT EXISTS platform_sessions (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    instance TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage_charges (
    job_id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    seconds REAL NOT NULL,
    charged REAL NOT NULL
);
"""


@dataclass
class JobRow:
    """One job as stored (without its Qobj and result)."""

    id: str
    seq: int
    user_id: str
    backend: str
    status: str
    queue_seq: int | None
    idempotency_key: str | None
    record: dict[str, Any]


@dataclass
class PlatformJobRow:
    """One job of the platform API as stored (without its params and result)."""

    id: str
    seq: int
    instance: str
    user_id: str
    backend: str
    status: str
    queue_seq: int | None
    record: dict[str, Any]


def _create_owner_only(path: Path) -> None:
    """Create the database file readable by its owner only, if it does not exist yet.

    It holds the URL-signing secret and every job; SQLite gives the ``-wal`` and ``-shm``
    files the permissions of the database file.
    """
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


class Store:
    """The database of one service.

    Args:
        path: The SQLite file (created if absent).

    Raises:
        sqlite3.Error: If the file cannot be opened as a database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _create_owner_only(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", _SCHEMA_VERSION)
        elif version != _SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path}: database schema {version}, this service needs {_SCHEMA_VERSION}"
            )

    def close(self) -> None:
        """Checkpoint the WAL into the database file and close it."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored setting, or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        """Forget a setting (nothing happens if it is not stored)."""
        self._write("DELETE FROM meta WHERE key = ?", (key,))

    # --- jobs ---------------------------------------------------------------------------

    def insert_job(self, row: JobRow) -> None:
        """Store a new job."""
        self._write(
            "INSERT INTO jobs (id, seq, user_id, backend, status, queue_seq, idempotency_key,"
            " record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.seq,
                row.user_id,
                row.backend,
                row.status,
                row.queue_seq,
                row.idempotency_key,
                json.dumps(row.record, separators=(",", ":")),
            ),
        )

    def update_job(
        self,
        job_id: str,
        status: str,
        queue_seq: int | None,
        record: dict[str, Any],
        result: bytes | None = None,
    ) -> None:
        """Store a job's new state, and its result if given."""
        self._update_state("jobs", job_id, status, queue_seq, record, result)

    def _update_state(
        self,
        table: str,
        job_id: str,
        status: str,
        queue_seq: int | None,
        record: dict[str, Any],
        result: bytes | None,
    ) -> None:
        encoded = json.dumps(record, separators=(",", ":"))
        if result is None:
            self._write(
                f"UPDATE {table} SET status = ?, queue_seq = ?, record = ? WHERE id = ?",
                (status, queue_seq, encoded, job_id),
            )
        else:
            self._write(
                f"UPDATE {table} SET status = ?, queue_seq = ?, record = ?, result = ?"
                " WHERE id = ?",
                (status, queue_seq, encoded, result, job_id),
            )

    def set_qobj(self, job_id: str, qobj: bytes, record: dict[str, Any]) -> None:
        """Store the uploaded Qobj of a job with its updated record."""
        encoded = json.dumps(record, separators=(",", ":"))
        self._write("UPDATE jobs SET qobj = ?, record = ? WHERE id = ?", (qobj, encoded, job_id))

    def get_qobj(self, job_id: str) -> bytes | None:
        """The uploaded Qobj of a job, if any."""
        return self._blob("qobj", job_id)

    def get_result(self, job_id: str) -> bytes | None:
        """The result of a job, if any."""
        return self._blob("result", job_id)

    def _blob(self, column: str, job_id: str, table: str = "jobs") -> bytes | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {column} FROM {table} WHERE id = ?",
                (job_id,),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return bytes(row[0])

    def delete_job(self, job_id: str) -> None:
        """Remove a job and its Qobj and result."""
        self._write("DELETE FROM jobs WHERE id = ?", (job_id,))

    def load_jobs(self) -> Iterator[JobRow]:
        """Every stored job, in creation order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, user_id, backend, status, queue_seq, idempotency_key, record"
                " FROM jobs ORDER BY seq"
            ).fetchall()
        for row in rows:
            yield JobRow(
                id=row[0],
                seq=row[1],
                user_id=row[2],
                backend=row[3],
                status=row[4],
                queue_seq=row[5],
                idempotency_key=row[6],
                record=json.loads(row[7]),
            )

    # --- access tokens ------------------------------------------------------------------

    def add_token(self, digest: str, user_id: str, created: float, expires: float) -> None:
        """Store an access token (by digest) and when it expires."""
        self._write(
            "INSERT OR REPLACE INTO tokens (digest, user_id, created, expires) VALUES (?,?,?,?)",
            (digest, user_id, created, expires),
        )

    def load_tokens(self, now: float) -> list[tuple[str, str, float, float]]:
        """Every unexpired token as ``(digest, user_id, created, expires)``; drops the rest."""
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE expires <= ?", (now,))
            rows = self._db.execute(
                "SELECT digest, user_id, created, expires FROM tokens"
            ).fetchall()
        return [(str(a), str(b), float(c), float(d)) for a, b, c, d in rows]

    # --- calibrations -------------------------------------------------------------------

    def add_properties(self, backend: str, last_update: str, document: bytes) -> None:
        """Store a calibration of a backend."""
        self._write(
            "INSERT OR REPLACE INTO properties (backend, last_update, document) VALUES (?,?,?)",
            (backend, last_update, document),
        )

    def load_properties(self) -> list[tuple[str, str, bytes]]:
        """Every stored calibration as ``(backend, last_update, document)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT backend, last_update, document FROM properties"
            ).fetchall()
        return [(str(a), str(b), bytes(c)) for a, b, c in rows]

    # --- the platform API ---------------------------------------------------------------

    def max_queue_seq(self) -> int:
        """The highest queue position handed out to any job of either API."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(m) FROM (SELECT MAX(queue_seq) AS m FROM jobs"
                " UNION ALL SELECT MAX(queue_seq) FROM platform_jobs)"
            ).fetchone()
        return int(row[0] or 0)

    def insert_platform_job(self, row: PlatformJobRow, params: bytes) -> None:
        """Store a new platform job with its params (runtime JSON)."""
        self._write(
            "INSERT INTO platform_jobs (id, seq, instance, user_id, backend, status, queue_seq,"
            " record, params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.seq,
                row.instance,
                row.user_id,
                row.backend,
                row.status,
                row.queue_seq,
                json.dumps(row.record, separators=(",", ":")),
                params,
            ),
        )

    def update_platform_job(
        self,
        job_id: str,
        status: str,
        queue_seq: int | None,
        record: dict[str, Any],
        result: bytes | None = None,
    ) -> None:
        """Store a platform job's new state, and its result if given."""
        self._update_state("platform_jobs", job_id, status, queue_seq, record, result)

    def platform_blob(self, column: str, job_id: str) -> bytes | None:
        """The ``params`` or ``result`` of a platform job, if any."""
        if column not in ("params", "result"):
            raise ValueError(f"no column {column!r}")
        return self._blob(column, job_id, "platform_jobs")

    def delete_platform_job(self, job_id: str) -> None:
        """Remove a platform job and its params and result (its usage charge stays)."""
        self._write("DELETE FROM platform_jobs WHERE id = ?", (job_id,))

    def load_platform_jobs(self) -> list[PlatformJobRow]:
        """Every stored platform job, in creation order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, instance, user_id, backend, status, queue_seq, record"
                " FROM platform_jobs ORDER BY seq"
            ).fetchall()
        return [
            PlatformJobRow(
                id=row[0],
                seq=row[1],
                instance=row[2],
                user_id=row[3],
                backend=row[4],
                status=row[5],
                queue_seq=row[6],
                record=json.loads(row[7]),
            )
            for row in rows
        ]

    def save_session(
        self, session_id: str, seq: int, instance: str, record: dict[str, Any]
    ) -> None:
        """Store a session (insert or replace)."""
        self._write(
            "INSERT OR REPLACE INTO platform_sessions (id, seq, instance, record)"
            " VALUES (?, ?, ?, ?)",
            (session_id, seq, instance, json.dumps(record, separators=(",", ":"))),
        )

    def load_sessions(self) -> list[tuple[str, int, str, dict[str, Any]]]:
        """Every stored session as ``(id, seq, instance, record)``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, instance, record FROM platform_sessions ORDER BY seq"
            ).fetchall()
        return [(str(a), int(b), str(c), json.loads(d)) for a, b, c, d in rows]

    def add_charge(self, job_id: str, instance: str, seconds: float, charged: float) -> None:
        """Record the quantum seconds a finished job charged its instance (once per job)."""
        self._write(
            "INSERT OR IGNORE INTO usage_charges (job_id, instance, seconds, charged)"
            " VALUES (?, ?, ?, ?)",
            (job_id, instance, seconds, charged),
        )

    def load_charges(self) -> list[tuple[str, str, float, float]]:
        """Every usage charge as ``(job_id, instance, seconds, charged)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id, instance, seconds, charged FROM usage_charges ORDER BY charged"
            ).fetchall()
        return [(str(a), str(b), float(c), float(d)) for a, b, c, d in rows]
