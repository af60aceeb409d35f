-- Roles for a ClickHouse server whose users are managed with SQL (the embedded chdb
-- engine has no users). The same privileges as docker/k8s/base/config/clickhouse-users.xml,
-- which compose and Kubernetes use; tests/deploy checks that the two agree.
--
-- Run once as an administrator after `classroom db migrate`, against the database the
-- pipeline uses (here `classroom`; replace it if yours differs):
--   clickhouse-client --multiquery < schemas/roles.sql
-- Then create one user per process, from private networks only, with its role, e.g.:
--   CREATE USER migrator IDENTIFIED WITH sha256_password BY '...' HOST IP '10.0.0.0/8' DEFAULT ROLE classroom_migrator;
--   CREATE USER sink IDENTIFIED WITH sha256_password BY '...' HOST IP '10.0.0.0/8' DEFAULT ROLE classroom_writer;
--   CREATE USER grafana IDENTIFIED WITH sha256_password BY '...' HOST IP '10.0.0.0/8' SETTINGS PROFILE classroom_readonly DEFAULT ROLE classroom_grafana;
--   CREATE USER analyst_jane IDENTIFIED WITH sha256_password BY '...' HOST IP '192.168.0.0/16' SETTINGS PROFILE classroom_analyst DEFAULT ROLE classroom_analyst;
-- The v_* views are defined by the migrator and run with its rights (SQL SECURITY
-- DEFINER, set by migration 0005): readers need no grant on the tables beneath.
-- Statements end with a semicolon at the end of a line, and comments never do.

-- `classroom db migrate`: the only role with DDL.
CREATE ROLE IF NOT EXISTS classroom_migrator;
GRANT ALL ON classroom.* TO classroom_migrator;

-- The sink: inserts rows, reads them back for its duplicate checks, and checks the
-- migrations table with CREATE TABLE IF NOT EXISTS on start.
CREATE ROLE IF NOT EXISTS classroom_writer;
GRANT SELECT, INSERT ON classroom.* TO classroom_writer;
GRANT CREATE TABLE ON classroom.schema_migrations TO classroom_writer;

-- Grafana and analysts: the documented views only, never face_events, dead_letters, the
-- roster_versions table or the per-person rollups beneath the views.
CREATE ROLE IF NOT EXISTS classroom_grafana;
GRANT SELECT ON classroom.v_student_windows TO classroom_grafana;
GRANT SELECT ON classroom.v_class_windows TO classroom_grafana;
GRANT SELECT ON classroom.v_alerts TO classroom_grafana;
GRANT SELECT ON classroom.v_session_scores TO classroom_grafana;
GRANT SELECT ON classroom.v_teacher_expression_mix TO classroom_grafana;
GRANT SELECT ON classroom.v_class_sessions TO classroom_grafana;
GRANT SELECT ON classroom.v_roster TO classroom_grafana;
GRANT SELECT ON classroom.v_roster_history TO classroom_grafana;
GRANT SELECT ON classroom.v_attendance TO classroom_grafana;
GRANT SELECT ON classroom.v_pipeline_health TO classroom_grafana;
GRANT SELECT ON classroom.v_face_activity_minutely TO classroom_grafana;
GRANT SELECT ON classroom.v_face_activity_hourly TO classroom_grafana;
GRANT SELECT ON classroom.v_concentration_hourly TO classroom_grafana;
GRANT SELECT ON classroom.v_concentration_daily TO classroom_grafana;
GRANT SELECT ON classroom.v_class_concentration_hourly TO classroom_grafana;

CREATE ROLE IF NOT EXISTS classroom_analyst;
GRANT SELECT ON classroom.v_student_windows TO classroom_analyst;
GRANT SELECT ON classroom.v_class_windows TO classroom_analyst;
GRANT SELECT ON classroom.v_alerts TO classroom_analyst;
GRANT SELECT ON classroom.v_session_scores TO classroom_analyst;
GRANT SELECT ON classroom.v_teacher_expression_mix TO classroom_analyst;
GRANT SELECT ON classroom.v_class_sessions TO classroom_analyst;
GRANT SELECT ON classroom.v_roster TO classroom_analyst;
GRANT SELECT ON classroom.v_roster_history TO classroom_analyst;
GRANT SELECT ON classroom.v_attendance TO classroom_analyst;
GRANT SELECT ON classroom.v_pipeline_health TO classroom_analyst;
GRANT SELECT ON classroom.v_face_activity_minutely TO classroom_analyst;
GRANT SELECT ON classroom.v_face_activity_hourly TO classroom_analyst;
GRANT SELECT ON classroom.v_concentration_hourly TO classroom_analyst;
GRANT SELECT ON classroom.v_concentration_daily TO classroom_analyst;
GRANT SELECT ON classroom.v_class_concentration_hourly TO classroom_analyst;

-- Limits a reader cannot raise with SET or a query setting (CONST and MAX constraints).
CREATE SETTINGS PROFILE IF NOT EXISTS classroom_readonly SETTINGS readonly = 2 CONST, allow_ddl = 0 CONST, allow_introspection_functions = 0 CONST, max_execution_time = 60 MAX 60, max_memory_usage = 4000000000 MAX 4000000000, max_result_rows = 1000000 MAX 1000000;
CREATE SETTINGS PROFILE IF NOT EXISTS classroom_analyst SETTINGS readonly = 2 CONST, allow_ddl = 0 CONST, allow_introspection_functions = 0 CONST, max_execution_time = 600 MAX 600, max_memory_usage = 16000000000 MAX 16000000000, max_result_rows = 100000000 MAX 100000000;
