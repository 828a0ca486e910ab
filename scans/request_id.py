"""One id per request, on every log line it causes, in web, worker and beat.

The web process takes the id from ``X-Request-ID`` when a proxy set a sane one,
or makes one, and answers it in the same header (RequestIdMiddleware). A task
carries the id of the request that sent it in its headers, so the worker's lines
about a scan share the upload's id; a task sent by beat gets an id of its own.
LOGGING (settings) formats each event as one line, its traceback included.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = "X-Request-ID"
NONE = "-"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NONE)


def request_id_new(proposed: str | None = None) -> str:
    """``proposed`` if it is a sane id (letters, digits, ``._-``, up to 64), else a new one."""
    if proposed and _SANE.fullmatch(proposed):
        return proposed
    return uuid.uuid4().hex


def request_id_get() -> str:
    return _current.get()


def request_id_set(value: str) -> contextvars.Token:
    return _current.set(value)


def request_id_reset(token: contextvars.Token) -> None:
    _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True


class OneLineFormatter(logging.Formatter):
    """One line per event: newlines of the message and of the traceback are escaped, so
    a log shipper never splits an event and a traceback is found by its request id."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


@before_task_publish.connect
def _send_request_id(headers: dict | None = None, **kwargs) -> None:
    if headers is not None:
        current = request_id_get()
        headers.setdefault("request_id", current if current != NONE else request_id_new())


_task_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect
def _task_starts(task_id: str, task, **kwargs) -> None:
    proposed = getattr(task.request, "request_id", None) or task_id
    _task_tokens[task_id] = request_id_set(request_id_new(proposed))


@task_postrun.connect
def _task_ends(task_id: str, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id_reset(token)
