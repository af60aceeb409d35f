"""Credentials out of anything a process prints: logs, error messages, the settings dump.

A camera source (``rtsp://admin:pass@10.0.0.5/stream``), a warehouse DSN
(``https://sink:pass@clickhouse:8443/classroom``) or a broker address may carry a user and
password in the URL. Wherever such a value is logged or put in an error message it goes
through ``redact`` first; the password fields of the settings are ``SecretStr`` already.
"""

from __future__ import annotations

import re
from typing import Any

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
"""``scheme://user:password@``: everything up to the last ``@`` of the authority, so a
password with an ``@`` in it goes too."""
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pwd|secret|token|access_token|api_key)=)[^&;#\s]*",
    re.IGNORECASE,
)
"""``?password=…`` and its kin in a query string (ClickHouse and many cameras accept them)."""

HIDDEN = "***"


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``."""
    text = _USERINFO.sub(rf"\g<scheme>{HIDDEN}@", text)
    return _SECRET_PARAMETER.sub(rf"\g<name>{HIDDEN}", text)


def redact_all(value: Any) -> Any:
    """Every string inside ``value`` (nested dicts and lists, e.g. a settings dump) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(item) for item in value]
    return value
