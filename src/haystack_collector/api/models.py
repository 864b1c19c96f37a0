"""The response models more than one route answers with: one model, and one name, per concept.

An error is ``ErrorOut`` on every route and status; a queue's counts are ``EventCounts``; an
event is ``EventOut`` whether it is read from the queue or from its item; a Status row is
``StatusOut`` in the activity log and as an engine's last status. Two models of one name would
show in /openapi.json under a module-qualified name, and two names of one concept would make a
client handle each apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from haystack_collector.store.events import EventState


class ValidationProblem(BaseModel):
    """One invalid part of a request: where (``loc``), what is wrong (``msg``), and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer: a message, or (422 for a malformed request) the invalid parts."""

    detail: str | list[ValidationProblem]


class EventCounts(BaseModel):
    """Events by state, for the whole queue or one engine."""

    pending: int
    claimed: int
    done: int
    dead: int


class EventOut(BaseModel):
    """A queued event: which engine's action, on which item, and how it went."""

    model_config = ConfigDict(from_attributes=True)

    event_id: int
    state: EventState
    engine_id: int
    engine: str | None
    action_id: int
    action: str | None
    item_id: int
    uri: str | None
    added: datetime | None
    run_after: datetime | None
    claimed_by: str | None
    lease_until: datetime | None
    attempts: int
    last_error: str | None
    dead_since: datetime | None
    done: datetime | None


class StatusOut(BaseModel):
    """A Status row (an activity log line) with its engine's and action's names."""

    status_id: int
    engine_id: int | None
    engine: str | None
    action_id: int | None
    action: str | None
    message: str
    date: datetime | None


_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No valid bearer token (see WWW-Authenticate).",
    404: "Not found.",
    409: "Conflicts with the current state.",
    413: "The body is over HAYSTACK_API_MAX_BODY_BYTES.",
    422: "Bad input.",
    429: "Over the client's request budget; see Retry-After.",
    503: "The database is unavailable; see Retry-After.",
}


def error_responses(
    *codes: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: the error answers it may give, as ErrorOut;
    ``described`` words a status's description for these routes."""
    words = {**_ERROR_DESCRIPTIONS, **(described or {})}
    return {code: {"model": ErrorOut, "description": words[code]} for code in codes}


READ_ERRORS = error_responses(401, 422, 429, 503)
WRITE_ERRORS = error_responses(401, 404, 409, 422, 429, 503)
