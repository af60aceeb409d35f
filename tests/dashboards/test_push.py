"""``classroom dashboards push`` against a loopback Grafana double (see grafana_double.py).

The push has not been run against a live Grafana here: no Grafana server can be installed
on this machine. These tests pin what it sends and how it reports each failure.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from classroom.cli import main
from dashboards.datasource import DATASOURCE_UID, PLUGIN_ID
from dashboards.generate import GENERATED_DIR
from dashboards.push import PushError, load_datasource, push
from tests.dashboards.grafana_double import TOKEN, GrafanaDouble, serve

CLICKHOUSE_ENV = {
    "CLICKHOUSE_HOST": "clickhouse.school.internal",
    "CLICKHOUSE_PORT": "9440",
    "CLICKHOUSE_SECURE": "true",
    "CLICKHOUSE_READONLY_USER": "grafana",
    "CLICKHOUSE_DATABASE": "classroom",
    "CLICKHOUSE_READONLY_PASSWORD": "s3cret-readonly",
}


@pytest.fixture(autouse=True)
def clickhouse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CLICKHOUSE_ENV.items():
        monkeypatch.setenv(name, value)


def grafana(mode: str = "ok") -> Iterator[tuple[GrafanaDouble, str]]:
    double = GrafanaDouble(mode=mode)
    server, url = serve(double)
    try:
        yield double, url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ok_grafana() -> Iterator[tuple[GrafanaDouble, str]]:
    yield from grafana("ok")


def generated_uids() -> list[str]:
    return sorted(json.loads(p.read_text())["uid"] for p in GENERATED_DIR.glob("*.json"))


def test_push_creates_then_updates_datasource_and_writes_every_dashboard(ok_grafana) -> None:
    double, url = ok_grafana

    first = push(url, TOKEN)
    second = push(url, TOKEN)

    assert first.datasource == "created"
    assert second.datasource == "updated"
    assert sorted(first.dashboards) == generated_uids()
    assert all(r.authorization == f"Bearer {TOKEN}" for r in double.requests[1:])

    sent = double.datasources[DATASOURCE_UID]
    assert sent["type"] == PLUGIN_ID
    assert sent["jsonData"]["host"] == "clickhouse.school.internal"
    assert sent["jsonData"]["port"] == "9440"  # a string, as Grafana's provisioning makes it
    assert sent["jsonData"]["username"] == "grafana"
    assert sent["secureJsonData"]["password"] == "s3cret-readonly"
    assert "editable" not in sent  # provisioning-only key

    assert double.folders["classroom"]["title"] == "Classroom"
    for uid in generated_uids():
        body = double.dashboards[uid]
        assert body["overwrite"] is True
        assert body["folderUid"] == "classroom"
        assert body["dashboard"]["id"] is None
        assert body["dashboard"] == {
            **json.loads((GENERATED_DIR / f"{uid}.json").read_text()),
            "id": None,
        }


def test_bad_token_is_reported_and_nothing_is_written(ok_grafana) -> None:
    double, url = ok_grafana
    with pytest.raises(PushError, match=r"rejected the token \(401 Unauthorized\): check --token"):
        push(url, "wrong-token")
    assert double.writes() == []


def test_token_without_admin_role_is_reported() -> None:
    for double, url in grafana("forbidden"):
        with pytest.raises(PushError, match=r"403 Forbidden.*Admin role"):
            push(url, TOKEN)
        assert double.writes() == []


def test_missing_clickhouse_plugin_is_reported_before_any_write() -> None:
    for double, url in grafana("no-plugin"):
        with pytest.raises(PushError, match=f"{PLUGIN_ID} plugin is not installed"):
            push(url, TOKEN)
        assert double.writes() == []


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("not-grafana", r"does not look like Grafana.*404"),
        ("web-page", "does not look like Grafana"),
    ],
)
def test_url_that_is_not_grafana_is_reported(mode: str, message: str) -> None:
    for double, url in grafana(mode):
        with pytest.raises(PushError, match=message):
            push(url, TOKEN)
        assert double.writes() == []


def test_unreachable_url_is_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(PushError, match=f"cannot reach Grafana at http://127.0.0.1:{port}"):
        push(f"http://127.0.0.1:{port}", TOKEN, timeout=2)


def test_missing_environment_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKHOUSE_READONLY_PASSWORD")
    monkeypatch.delenv("CLICKHOUSE_HOST")
    with pytest.raises(PushError, match="CLICKHOUSE_HOST, CLICKHOUSE_READONLY_PASSWORD"):
        load_datasource()


def test_cli_push_prints_what_it_wrote_and_fails_cleanly(
    ok_grafana, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token is a secret setting read from its file, like every secret."""
    _, url = ok_grafana
    runner = CliRunner()
    token_file = tmp_path / "grafana-token"
    monkeypatch.setenv("CLASSROOM_GRAFANA__TOKEN_FILE", str(token_file))

    token_file.write_text(TOKEN + "\n")
    ok = runner.invoke(main, ["dashboards", "push", "--url", url])
    assert ok.exit_code == 0, ok.output
    assert "datasource created" in ok.output
    assert "dashboard classroom-live written" in ok.output

    token_file.write_text("nope\n")  # control: the file is what is sent
    bad = runner.invoke(main, ["dashboards", "push", "--url", url])
    assert bad.exit_code == 1
    assert "Error: checking the ClickHouse plugin failed: Grafana rejected the token" in bad.output
    assert "Traceback" not in bad.output

    monkeypatch.delenv("CLASSROOM_GRAFANA__TOKEN_FILE")
    missing = runner.invoke(main, ["dashboards", "push", "--url", url])
    assert missing.exit_code != 0
    assert "CLASSROOM_GRAFANA__TOKEN_FILE" in missing.output
