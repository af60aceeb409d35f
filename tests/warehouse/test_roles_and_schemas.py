"""The server roles file parses and covers every analyst view; the JSON Schemas are current."""

from __future__ import annotations

import re
from pathlib import Path

from classroom.db_cli import JSONSCHEMA_DIR, json_schemas
from core.warehouse import Warehouse
from schemas.migrate import load_migrations, split_statements
from tests.conftest import PROJECT_ROOT

ROLES = PROJECT_ROOT / "schemas" / "roles.sql"


def analyst_views() -> set[str]:
    text = "\n".join(m.text for m in load_migrations())
    return set(re.findall(r"CREATE VIEW IF NOT EXISTS (v_\w+)", text))


def test_roles_file_parses(tmp_path: Path) -> None:
    statements = split_statements(ROLES.read_text())
    assert len(statements) > 20
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        for statement in statements:
            warehouse.query(f"EXPLAIN AST {statement}")


def test_analysts_and_grafana_get_every_view_and_no_table() -> None:
    for role in ("classroom_analyst", "classroom_grafana"):
        grants = re.findall(rf"GRANT SELECT ON classroom\.(\w+) TO {role};", ROLES.read_text())
        assert set(grants) == analyst_views(), role
    migrations = "\n".join(m.text for m in load_migrations())
    definer = re.findall(r"ALTER TABLE (\w+) MODIFY SQL SECURITY DEFINER", migrations)
    assert set(definer) == analyst_views()


def test_committed_json_schemas_match_the_events() -> None:
    expected = json_schemas()
    committed = {path.stem: path.read_text() for path in JSONSCHEMA_DIR.glob("*.json")}
    assert committed == expected, "run `classroom schemas export` and commit schemas/jsonschema"
