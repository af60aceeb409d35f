"""Upsert the ClickHouse datasource and the generated dashboards into a running Grafana.

Provisioning files are the usual way (docker compose, Kubernetes); ``push`` is for a
Grafana someone else runs, reached with a service-account token. It sends exactly what
provisioning would load: the datasource from ``provisioning/datasources/clickhouse.yaml``
with ``$VARIABLES`` taken from the environment, and the JSON in ``generated/``.

Every failure becomes a ``PushError`` that says what to fix: a wrong URL, a bad or
under-privileged token, or a Grafana without the ClickHouse plugin.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from dashboards.datasource import PLUGIN_ID
from dashboards.generate import GENERATED_DIR

PROVISIONED_DATASOURCE = Path(__file__).parent / "provisioning" / "datasources" / "clickhouse.yaml"
FOLDER_UID = "classroom"
FOLDER_TITLE = "Classroom"

T = TypeVar("T")

_ENV_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class PushError(RuntimeError):
    """The push failed; the message says why and what to do."""


class _NotFound(PushError):
    """Grafana answered 404."""


@dataclass(frozen=True)
class PushResult:
    datasource: str
    """``created`` or ``updated``."""
    dashboards: list[str]
    """The uids of the dashboards written."""


def load_datasource(
    path: Path = PROVISIONED_DATASOURCE, environ: Mapping[str, str] = os.environ
) -> dict:
    """The provisioned datasource as the HTTP API expects it, its ``$VARIABLES`` filled in.

    Like Grafana's provisioning, variables are replaced inside string values after the
    YAML is parsed (so a port stays the string "9440"; the plugin accepts both).
    """
    (entry,) = yaml.safe_load(path.read_text())["datasources"]
    missing: set[str] = set()

    def expand(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: expand(item) for key, item in value.items()}
        if not isinstance(value, str):
            return value

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if not environ.get(name):
                missing.add(name)
                return ""
            return environ[name]

        return _ENV_VARIABLE.sub(lookup, value)

    datasource = expand(entry)
    if missing:
        raise PushError(
            f"{path.name} needs these environment variables, which are not set: "
            + ", ".join(sorted(missing))
        )
    datasource.pop("editable", None)  # a provisioning-only key
    return datasource


def load_dashboards(directory: Path = GENERATED_DIR) -> list[dict]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise PushError(f"no dashboards in {directory}; run `classroom dashboards generate`")
    return [json.loads(file.read_text()) for file in files]


def push(url: str, token: str, *, timeout: float = 10.0) -> PushResult:
    """Check that ``url`` is a Grafana with the plugin, then upsert datasource and dashboards."""
    datasource = load_datasource()
    dashboards = load_dashboards()
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)

    _check_is_grafana(api, url)
    if not _exists("checking the ClickHouse plugin", f"/plugins/{PLUGIN_ID}/settings", api):
        raise PushError(
            f"the {PLUGIN_ID} plugin is not installed in this Grafana: install it "
            f"(`grafana cli plugins install {PLUGIN_ID}` or GF_INSTALL_PLUGINS={PLUGIN_ID}) "
            "and restart Grafana"
        )
    uid = datasource["uid"]
    if _exists(f"reading datasource {uid!r}", f"/datasources/uid/{uid}", api):
        outcome = "updated"
        _call(
            f"updating datasource {uid!r}",
            lambda: api.datasource.update_datasource_by_uid(uid, datasource),
        )
    else:
        outcome = "created"
        _call(f"creating datasource {uid!r}", lambda: api.datasource.create_datasource(datasource))
    if not _exists("reading the dashboard folder", f"/folders/{FOLDER_UID}", api):
        _call(
            "creating the dashboard folder",
            lambda: api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID),
        )
    written = []
    for dashboard in dashboards:
        _call(
            f"writing dashboard {dashboard['uid']!r}",
            lambda d=dashboard: api.dashboard.update_dashboard(
                {
                    "dashboard": {**d, "id": None},
                    "folderUid": FOLDER_UID,
                    "overwrite": True,
                    "message": "classroom dashboards push",
                }
            ),
        )
        written.append(dashboard["uid"])
    return PushResult(datasource=outcome, dashboards=written)


def _check_is_grafana(api: GrafanaApi, url: str) -> None:
    """``/api/health`` answers without a token, so a wrong URL is told apart from a bad token."""
    try:
        health = api.client.GET("/health")
    except OSError as exc:  # connection refused, DNS, TLS: niquests errors are OSErrors
        raise PushError(f"cannot reach Grafana at {url}: {exc}") from exc
    except GrafanaException as exc:
        raise PushError(
            f"{url} does not look like Grafana: GET /api/health answered "
            f"{exc.status_code or 'with an error'} ({exc.message}); check the URL"
        ) from exc
    except ValueError as exc:  # a body that is not JSON: some other web server
        raise PushError(f"{url} does not look like Grafana: /api/health is not JSON") from exc
    if not isinstance(health, dict) or "database" not in health:
        raise PushError(f"{url} does not look like Grafana: unexpected /api/health {health!r}")


def _exists(what: str, path: str, api: GrafanaApi) -> bool:
    """Whether ``GET /api<path>`` finds its object; a 404 is an answer, not a failure."""
    try:
        _call(what, lambda: api.client.GET(path))
    except _NotFound:
        return False
    return True


def _call(what: str, request: Callable[[], T]) -> T:
    try:
        return request()
    except GrafanaException as exc:
        _raise_for(what, exc)
    except OSError as exc:
        raise PushError(f"lost the connection to Grafana while {what}: {exc}") from exc


def _raise_for(what: str, exc: GrafanaException) -> NoReturn:
    status = exc.status_code
    if status == 401:
        message = "Grafana rejected the token (401 Unauthorized): check --token"
    elif status == 403:
        message = (
            "the token is valid but not allowed to do this (403 Forbidden): "
            "use a service account with the Admin role"
        )
    elif status == 404:
        raise _NotFound(f"{what} failed: Grafana answered 404: {exc.message}") from exc
    else:
        message = f"Grafana answered {status}: {exc.message}"
    raise PushError(f"{what} failed: {message}") from exc
