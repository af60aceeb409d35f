"""Versioned DDL: find the migrations, render them for one node or a cluster, apply them.

A migration is a file ``schemas/migrations/NNNN_name.sql`` of statements separated by a
``;`` at the end of a line. Its text may name settings as ``{face_event_ttl_days}`` or
``{person_metrics_ttl_days}``; no other braces are allowed, so a typo fails loudly instead
of reaching ClickHouse.

Every applied migration is recorded in ``schema_migrations`` with the SHA-256 of its text.
``migrate`` refuses to go on when an applied file has changed since (write a new migration
instead), or when the database holds a version this code does not know (the database is
newer than the code). Statements use ``IF NOT EXISTS``, so a migration interrupted half-way
can simply be run again.

Cluster mode (``warehouse.cluster`` set) renders the same files differently: every
``*MergeTree`` table becomes ``<name>_local`` with a ``Replicated*MergeTree`` engine plus a
``Distributed`` table under the original name, sharded by classroom so that a classroom's
rows and rollups stay on one shard; materialized views and ``ALTER TABLE`` target the local
tables; every statement gets ``ON CLUSTER``. Views keep reading the public (Distributed)
names, so analysts' SQL is the same on one node and on a cluster.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

MIGRATIONS_TABLE = "schema_migrations"

MIGRATIONS_TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version
"""

TTL_TABLES: dict[str, str] = {
    "face_events": "face_event_ttl_days",
    "dead_letters": "face_event_ttl_days",
    "face_activity_1m": "face_event_ttl_days",
    "face_activity_1h": "face_event_ttl_days",
    "student_windows": "person_metrics_ttl_days",
    "alerts": "person_metrics_ttl_days",
    "session_scores": "person_metrics_ttl_days",
    "teacher_expression_mix": "person_metrics_ttl_days",
    "student_concentration_1h": "person_metrics_ttl_days",
    "student_concentration_1d": "person_metrics_ttl_days",
}
"""Every table holding personal data, and the setting that says for how many days it keeps
a row after storing it (column ``stored_at``; the TTLs are set by migration 0006)."""

TTL_COLUMN = "stored_at"
"""The TTLs count from storage, not capture: analysing an old recording must never store
rows that are already past their retention (migration 0006)."""

_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
_TEMPLATE_VARIABLE = re.compile(r"\{(\w*)\}")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


class MigrationError(RuntimeError):
    """The migrations cannot be applied as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    state: str
    """``applied``, ``pending``, ``changed`` (text differs from what was applied) or
    ``unknown`` (applied by newer code)."""
    applied_at: str = ""


def load_migrations() -> list[Migration]:
    """The migrations shipped with this code, in version order."""
    migrations = []
    for entry in resources.files("schemas").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        migrations.append(Migration(int(match[1]), match[2], entry.read_text()))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return migrations


def split_statements(sql: str) -> list[str]:
    """Statements of a migration file: text between ``;`` at the ends of lines, without
    the whole-line ``--`` comments (they document the file; ClickHouse need not see them)."""
    statements = []
    for part in _STATEMENT_END.split(sql):
        lines = [line for line in part.splitlines() if not line.lstrip().startswith("--")]
        statement = "\n".join(lines).strip()
        if statement:
            statements.append(statement)
    return statements


def render(sql: str, variables: Mapping[str, object]) -> str:
    """Fill ``{name}`` template variables; an unknown name is an error, not a silent blank."""

    def substitute(match: re.Match[str]) -> str:
        name = match[1]
        if name not in variables:
            raise MigrationError(f"unknown template variable {{{name}}} in a migration")
        return str(variables[name])

    return _TEMPLATE_VARIABLE.sub(substitute, sql)


# --- cluster mode -------------------------------------------------------------------------

_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\s*\(", re.IGNORECASE)
_CREATE_VIEW = re.compile(
    r"^CREATE (?:OR REPLACE )?(MATERIALIZED )?VIEW (?:IF NOT EXISTS )?(\w+)\s", re.IGNORECASE
)
_DROP_VIEW = re.compile(r"^DROP VIEW IF EXISTS (\w+)$", re.IGNORECASE)
_COLUMN_CHANGE = re.compile(r"^(ADD|MODIFY|DROP) COLUMN\b", re.IGNORECASE)
_ALTER_TABLE = re.compile(r"^ALTER TABLE (\w+)\s", re.IGNORECASE)
_ENGINE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")
_TABLE_REFERENCE = r"(\b(?:FROM|TO|JOIN|TABLE)\s+){name}\b"


def clusterize(migrations: Iterable[str], cluster: str) -> list[list[str]]:
    """Rewrite single-node migrations for a replicated, sharded cluster (see module doc).

    All migrations at once, because a table created by one migration is read through its
    local name by the materialized views and ALTERs of later ones."""
    rendered = [split_statements(sql) for sql in migrations]
    local_tables = [
        m[1] for statements in rendered for s in statements if (m := _CREATE_TABLE.match(s))
    ]
    return [
        [out for s in statements for out in _clusterize_one(s, cluster, local_tables)]
        for statements in rendered
    ]


def _clusterize_one(statement: str, cluster: str, local_tables: list[str]) -> list[str]:
    on_cluster = f"ON CLUSTER '{cluster}'"
    if match := _CREATE_TABLE.match(statement):
        return _replicated_and_distributed(statement, match[1], on_cluster, cluster)
    if match := _CREATE_VIEW.match(statement):
        head = match.group(0).rstrip()
        body = statement[match.end() :]
        if match[1]:  # a materialized view is fed by, and writes to, the local tables
            body = _point_at_local_tables(body, local_tables)
        return [f"{head} {on_cluster} {body}"]
    if match := _ALTER_TABLE.match(statement):
        change = statement[match.end() :]
        # A table's data is in its local table; a view (only views have an SQL SECURITY)
        # keeps its name on every node.
        view = change.upper().startswith("MODIFY SQL SECURITY")
        local = f"ALTER TABLE {match[1]}{'' if view else '_local'} {on_cluster} {change}"
        if _COLUMN_CHANGE.match(change):
            # The Distributed table must know a column too, or inserts through it fail.
            return [local, f"ALTER TABLE {match[1]} {on_cluster} {change}"]
        return [local]
    if _DROP_VIEW.match(statement):  # views keep their names on a cluster
        return [f"{statement} {on_cluster}"]
    raise MigrationError(
        f"cluster mode cannot render this statement; use CREATE TABLE/VIEW IF NOT EXISTS, "
        f"CREATE OR REPLACE VIEW, DROP VIEW IF EXISTS or ALTER TABLE: {statement[:80]!r}"
    )


def _replicated_and_distributed(
    statement: str, table: str, on_cluster: str, cluster: str
) -> list[str]:
    local = f"{table}_local"
    engine = _ENGINE.search(statement)
    if engine is None:
        raise MigrationError(f"cluster mode needs a *MergeTree engine for table {table}")
    replica_args = f"'/clickhouse/tables/{{shard}}/{{database}}/{local}', '{{replica}}'"
    engine_args = f"{replica_args}, {engine[2]}" if engine[2] else replica_args
    replicated = (
        statement[: engine.start()]
        + f"ENGINE = Replicated{engine[1]}({engine_args})"
        + statement[engine.end() :]
    )
    replicated = _CREATE_TABLE.sub(f"CREATE TABLE IF NOT EXISTS {local} {on_cluster} (", replicated)
    # Sharding by classroom keeps each classroom's raw rows, windows and rollups together,
    # so per-classroom queries and the rollups' GROUP BY stay shard-local and exact.
    shard_key = (
        "cityHash64(classroom_id)"
        if re.search(r"^\s*classroom_id\s", statement, re.M)
        else "rand()"
    )
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {table} {on_cluster} AS {local}\n"
        f"ENGINE = Distributed('{cluster}', currentDatabase(), '{local}', {shard_key})"
    )
    return [replicated, distributed]


def _point_at_local_tables(sql: str, local_tables: list[str]) -> str:
    for name in local_tables:
        sql = re.sub(_TABLE_REFERENCE.format(name=name), rf"\g<1>{name}_local", sql)
    return sql


# --- applying -----------------------------------------------------------------------------


class Migrator:
    """Applies the shipped migrations to one database (a clickhouse-connect client)."""

    def __init__(
        self,
        client: Client,
        variables: Mapping[str, object],
        cluster: str | None = None,
        migrations: list[Migration] | None = None,
    ) -> None:
        self.client = client
        self.variables = variables
        self.cluster = cluster
        self.migrations = load_migrations() if migrations is None else migrations

    def rendered(self) -> dict[int, list[str]]:
        """Every migration's statements as they will run, by version."""
        texts = [render(m.text, self.variables) for m in self.migrations]
        if self.cluster:
            statements = clusterize(texts, self.cluster)
        else:
            statements = [split_statements(text) for text in texts]
        return {m.version: s for m, s in zip(self.migrations, statements, strict=True)}

    def status(self) -> list[MigrationStatus]:
        applied = self._applied()
        statuses = []
        for migration in self.migrations:
            record = applied.pop(migration.version, None)
            if record is None:
                statuses.append(MigrationStatus(migration.version, migration.name, "pending"))
            else:
                _, checksum, applied_at = record
                state = "applied" if checksum == migration.checksum else "changed"
                statuses.append(
                    MigrationStatus(migration.version, migration.name, state, applied_at)
                )
        for version, (name, _, applied_at) in sorted(applied.items()):
            statuses.append(MigrationStatus(version, name, "unknown", applied_at))
        return statuses

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; return the file names applied now."""
        statuses = self.status()
        unknown = [s for s in statuses if s.state == "unknown"]
        if unknown:
            names = ", ".join(f"{s.version:04d}_{s.name}" for s in unknown)
            raise MigrationError(
                f"the database is newer than this code: it has migration(s) {names} that this "
                "version does not ship. Upgrade the code (or point it at another database)."
            )
        changed = [s for s in statuses if s.state == "changed"]
        if changed:
            names = ", ".join(f"{s.version:04d}_{s.name}.sql" for s in changed)
            raise MigrationError(
                f"applied migration(s) {names} changed since they were applied. Revert the "
                "edit and put the change in a new migration file."
            )
        pending = {s.version for s in statuses if s.state == "pending"}
        rendered = self.rendered()
        applied_now = []
        for migration in self.migrations:
            if migration.version not in pending:
                continue
            for statement in rendered[migration.version]:
                try:
                    self.client.command(statement)
                except ClickHouseError as exc:
                    raise MigrationError(
                        f"{migration.file_name} failed: {exc}\nstatement:\n{statement}"
                    ) from exc
            self.client.insert(
                MIGRATIONS_TABLE,
                [[migration.version, migration.name, migration.checksum]],
                column_names=["version", "name", "checksum"],
                # On a cluster, the record must be on its shard before anyone reads it.
                settings={"distributed_foreground_insert": 1} if self.cluster else None,
            )
            applied_now.append(migration.file_name)
        return applied_now

    def apply_ttl(self) -> list[str]:
        """Bring the TTL of every personal-data table to the number of days its setting in
        ``variables`` names (``TTL_TABLES``); describe what changed.

        The new TTL applies to existing rows at their next merge rather than by rewriting
        every part now (``materialize_ttl_after_modify = 0``): cheap, and old rows still
        go within a day or so on a busy table."""
        changes = []
        for table, setting in TTL_TABLES.items():
            days = self.variables[setting]
            stored = self.client.command(
                f"SELECT create_table_query FROM system.tables "
                f"WHERE database = currentDatabase() AND name = '{self._storage(table)}'"
            )
            match = re.search(r"toIntervalDay\((\d+)\)", str(stored))
            if match is None or int(match[1]) == days:
                continue
            alter = f"ALTER TABLE {table} MODIFY TTL {TTL_COLUMN} + INTERVAL {days} DAY"
            statements = clusterize([alter + ";"], self.cluster)[0] if self.cluster else [alter]
            for statement in statements:
                self.client.command(statement, settings={"materialize_ttl_after_modify": 0})
            changes.append(f"{table}: TTL {match[1]} -> {days} days")
        return changes

    def _storage(self, table: str) -> str:
        return f"{table}_local" if self.cluster else table

    def _applied(self) -> dict[int, tuple[str, str, str]]:
        ddl = MIGRATIONS_TABLE_DDL
        statements = clusterize([ddl], self.cluster)[0] if self.cluster else [ddl]
        for statement in statements:
            self.client.command(statement)
        rows = self.client.query(
            f"SELECT version, name, checksum, toString(applied_at) FROM {MIGRATIONS_TABLE} "
            "ORDER BY version"
        ).result_rows
        return {
            version: (name, checksum, applied_at) for version, name, checksum, applied_at in rows
        }
