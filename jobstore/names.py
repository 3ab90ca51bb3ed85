"""The photo store's file names: one place that writes them and one that reads them back.

Why the token is in the result's name: the download token is the guest's link, and the ledger is
its only other home. If the ledger is lost (a corrupt SQLite file), the rebuild reads the token
back from the file name, so every link already on a phone keeps working. The name is never shown
to a client (downloads get a friendly name from `share/lookup.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from booth.protocol import JOB_ID_RE

_RESULT_RE = re.compile(
    r"^(?P<job>.+?)-result(?:-(?P<token>[A-Za-z0-9_-]{16,64}))?"
    r"\.(?P<ext>jpg|png)$"
)
_AI_RE = re.compile(r"^(?P<job>.+)-ai\.jpg$")
_ORIGINAL_RE = re.compile(r"^(?P<job>[^.]+)\.jpg$")
_SESSION_RE = re.compile(r"^(?P<session>.+)-session\.json$")


def original_name(job_id: str) -> str:
    """The full-resolution shot."""
    return f"{job_id}.jpg"


def ai_name(job_id: str) -> str:
    """The copy sent to the AI (long side ≤ kiosk.ai_long_side)."""
    return f"{job_id}-ai.jpg"


def result_name(job_id: str, token: str, extension: str) -> str:
    """The stored result; `extension` is ".jpg" or ".png"."""
    return f"{job_id}-result-{token}{extension}"


def session_record_name(session_id: str) -> str:
    """A strip session's record (jobstore/sessions.py `write_record`): which jobs are its frames,
    so a ledger rebuild can group them again. `parse_name` knows no `.json`: not a job's file."""
    return f"{session_id}-session.json"


def parse_session_record(name: str) -> str | None:
    """The session id of a session record's file name, else None."""
    m = _SESSION_RE.match(name)
    return m.group("session") if m and JOB_ID_RE.match(m.group("session")) else None


def clip_path(result_path: str) -> str:
    """The reveal clip of a stored result: the same name with `.mp4`, in the same folder, so
    whatever deletes a job's files finds it from the result alone (jobstore/retention.py). A
    ledger rebuild ignores it (`parse_name` knows no `.mp4`); the share process makes it again."""
    stem, dot, _ext = result_path.rpartition(".")
    return (stem if dot else result_path) + ".mp4"


@dataclass(frozen=True)
class StoredFile:
    """What a file name in a photo folder says: whose job, which file, the token of a result."""

    job_id: str
    kind: str  # "original", "ai" or "result"
    token: str | None = None


def parse_name(name: str) -> StoredFile | None:
    """The meaning of a photo folder's file name, or None for anything else (temp files …).

    Results stored before the token was part of the name (`{job}-result.jpg`) parse with
    token None."""
    for kind, pattern in (("result", _RESULT_RE), ("ai", _AI_RE), ("original", _ORIGINAL_RE)):
        m = pattern.match(name)
        if m and JOB_ID_RE.match(m.group("job")):
            token = m.groupdict().get("token") if kind == "result" else None
            return StoredFile(m.group("job"), kind, token)
    return None
