"""The committed dashboard JSON: up to date with the code, and well-formed for Grafana."""

from __future__ import annotations

import json
import re
from itertools import combinations

import pytest
import yaml

from dashboards.datasource import DATASOURCE_UID, PLUGIN_ID, SqlQuery
from dashboards.generate import GENERATED_DIR, generate, rendered
from dashboards.push import PROVISIONED_DATASOURCE

PROVISIONED_DASHBOARDS = PROVISIONED_DATASOURCE.parent.parent / "dashboards" / "classroom.yaml"

DASHBOARDS = {path.stem: json.loads(path.read_text()) for path in GENERATED_DIR.glob("*.json")}

# Grafana's own variables and the plugin's macros, which no dashboard defines.
BUILT_IN = re.compile(r"^__")
VARIABLE_USE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def test_committed_json_is_what_the_code_generates() -> None:
    committed = {path.name: path.read_text() for path in GENERATED_DIR.glob("*.json")}
    assert committed == rendered(), "run `classroom dashboards generate` and commit the result"


def test_stored_sql_does_not_depend_on_how_deep_the_code_is_nested() -> None:
    nested = SqlQuery(
        """
                SELECT 1
                FROM t
        """
    )
    assert (
        nested.build().raw_sql == SqlQuery("SELECT 1\nFROM t").build().raw_sql == "SELECT 1\nFROM t"
    )


def test_generate_writes_every_dashboard_and_drops_stale_files(tmp_path) -> None:
    (tmp_path / "renamed-long-ago.json").write_text("{}")
    written = generate(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    assert len(written) == 5


def test_the_five_dashboards_exist_with_distinct_uids() -> None:
    assert set(DASHBOARDS) == {
        "classroom-live",
        "classroom-student",
        "classroom-teacher",
        "classroom-session-report",
        "classroom-operations",
    }
    assert all(d["uid"] == uid for uid, d in DASHBOARDS.items())


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_panel_ids_are_unique(uid: str) -> None:
    ids = [panel["id"] for panel in DASHBOARDS[uid]["panels"]]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_panels_fit_the_grid_and_do_not_overlap(uid: str) -> None:
    boxes = [(p["id"], p["gridPos"]) for p in DASHBOARDS[uid]["panels"]]
    for panel_id, box in boxes:
        assert box["x"] >= 0 and box["y"] >= 0 and box["w"] > 0 and box["h"] > 0, panel_id
        assert box["x"] + box["w"] <= 24, f"panel {panel_id} runs off the 24-column grid"
    for (id_a, a), (id_b, b) in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"panels {id_a} and {id_b} overlap: {a} {b}"


def datasource_references(node: object) -> list[dict]:
    """Every ``datasource`` object anywhere in the dashboard (panels, targets, variables)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.append(value)
            found.extend(datasource_references(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(datasource_references(item))
    return found


def test_provisioned_datasource_has_the_uid_the_dashboards_use() -> None:
    (entry,) = yaml.safe_load(PROVISIONED_DATASOURCE.read_text())["datasources"]
    assert (entry["uid"], entry["type"]) == (DATASOURCE_UID, PLUGIN_ID)
    assert entry["secureJsonData"]["password"] == "$CLICKHOUSE_READONLY_PASSWORD"
    assert entry["jsonData"]["username"] == "$CLICKHOUSE_READONLY_USER"


def test_dashboard_provider_loads_the_generated_folder() -> None:
    (provider,) = yaml.safe_load(PROVISIONED_DASHBOARDS.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/classroom"
    assert provider["allowUiUpdates"] is False


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_datasource_reference_is_the_provisioned_clickhouse(uid: str) -> None:
    dashboard = DASHBOARDS[uid]
    references = datasource_references(dashboard)
    assert references, "a dashboard with no datasource reference reads nothing"
    assert all(r == {"type": PLUGIN_ID, "uid": DATASOURCE_UID} for r in references), references
    for panel in dashboard["panels"]:
        if panel["type"] not in ("text", "row"):
            assert panel.get("datasource") and panel.get("targets"), panel["title"]


def used_variables(text: str) -> set[str]:
    names = {next(g for g in m.groups() if g) for m in VARIABLE_USE.finditer(text)}
    return {name for name in names if not BUILT_IN.match(name)}


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_variable_used_is_defined_before_use(uid: str) -> None:
    dashboard = DASHBOARDS[uid]
    defined: list[str] = []
    for variable in dashboard["templating"]["list"]:
        missing = used_variables(variable["query"]) - set(defined)
        assert not missing, f"${variable['name']} uses {missing} before they are defined"
        defined.append(variable["name"])
    for panel in dashboard["panels"]:
        text = json.dumps({k: panel.get(k) for k in ("title", "description", "targets")})
        missing = used_variables(text) - set(defined)
        assert not missing, f"panel {panel['title']!r} uses undefined {missing}"


def test_live_dashboard_refreshes_within_5_seconds_and_chains_its_variables() -> None:
    live = DASHBOARDS["classroom-live"]
    assert live["refresh"] in ("1s", "2s", "5s")
    names = [v["name"] for v in live["templating"]["list"]]
    assert names[:3] == ["school", "classroom", "session"]
    queries = {v["name"]: v["query"] for v in live["templating"]["list"]}
    assert used_variables(queries["classroom"]) == {"school"}
    assert used_variables(queries["session"]) == {"school", "classroom"}


def test_expression_mix_is_tied_to_the_emotion_policy() -> None:
    live = DASHBOARDS["classroom-live"]
    (panel,) = [p for p in live["panels"] if p["title"].startswith("Expression mix")]
    assert "decodeURLComponent('${emotion:percentencode}') = 'on'" in panel["targets"][0]["rawSql"]
    emotion = next(v for v in live["templating"]["list"] if v["name"] == "emotion")
    assert emotion["hide"] == 2  # computed from the data, not a choice offered to viewers


def test_live_student_timeline_shows_engagement_bands() -> None:
    live = DASHBOARDS["classroom-live"]
    (panel,) = [p for p in live["panels"] if p["type"] == "state-timeline"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 25, 65]
    texts = [m["options"]["result"]["text"] for m in panel["fieldConfig"]["defaults"]["mappings"]]
    assert texts == ["low", "nominal", "high"]
