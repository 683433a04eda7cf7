"""Webhook delivery, the pure part: what is POSTed, what is retried, what a log line may show."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from newspipe.contract import Alert, Watch


class WebhookError(Exception):
    """A webhook answered with an error status (`status`), or could not be reached (None)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def retryable(status: int | None) -> bool:
    """Unreachable, timed out, throttled (429) or failing (5xx): try again; any other refusal
    (4xx, a redirect) will not change by retrying."""
    return status is None or status == 429 or status >= 500


def redact(url: str) -> str:
    """A webhook URL as a log line or a dead letter may show it: its path and query often carry
    a token (Slack, Teams, Discord), so only the scheme and host are kept."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


def payload(alert: Alert, watch: Watch) -> bytes:
    """The JSON body: the alert, and the watch as the analyst wrote it (never its webhook)."""
    body: dict[str, Any] = {
        "alert": alert.model_dump(mode="json"),
        "watch": watch.model_dump(
            mode="json",
            include={
                "name",
                "text",
                "topics",
                "entity_names",
                "outlets",
                "languages",
                "on_track",
                "trigger",
            },
        ),
    }
    return orjson.dumps(body)
