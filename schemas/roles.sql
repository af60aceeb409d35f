-- Roles for a ClickHouse server (the embedded chdb engine has no users).
--
-- Run once as an administrator after `classroom db migrate`, against the database the
-- pipeline uses (here `classroom`; replace it if yours differs):
--   clickhouse-client --multiquery < schemas/roles.sql
-- Then create one user per process and give it its role, e.g.:
--   CREATE USER sink IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE classroom_writer;
--   CREATE USER grafana IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE classroom_reader;
--   CREATE USER analyst_jane IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE classroom_analyst;
--   GRANT classroom_writer TO sink;
-- Statements end with a semicolon at the end of a line, and comments never do.

-- The sink and `classroom db migrate`: write every table, read what it checks.
CREATE ROLE IF NOT EXISTS classroom_writer;
GRANT SELECT, INSERT ON classroom.* TO classroom_writer;
GRANT CREATE TABLE, CREATE VIEW, ALTER TABLE ON classroom.* TO classroom_writer;

-- Grafana: read everything (live panels read recent face events), change nothing.
CREATE ROLE IF NOT EXISTS classroom_reader;
GRANT SELECT ON classroom.* TO classroom_reader;

-- Analysts: the documented views only, never raw face events.
CREATE ROLE IF NOT EXISTS classroom_analyst;
GRANT SELECT ON classroom.v_student_windows TO classroom_analyst;
GRANT SELECT ON classroom.v_class_windows TO classroom_analyst;
GRANT SELECT ON classroom.v_alerts TO classroom_analyst;
GRANT SELECT ON classroom.v_session_scores TO classroom_analyst;
GRANT SELECT ON classroom.v_teacher_expression_mix TO classroom_analyst;
GRANT SELECT ON classroom.v_class_sessions TO classroom_analyst;
GRANT SELECT ON classroom.v_roster TO classroom_analyst;
GRANT SELECT ON classroom.v_pipeline_health TO classroom_analyst;
GRANT SELECT ON classroom.v_face_activity_minutely TO classroom_analyst;
GRANT SELECT ON classroom.v_face_activity_hourly TO classroom_analyst;
GRANT SELECT ON classroom.v_concentration_hourly TO classroom_analyst;
GRANT SELECT ON classroom.v_concentration_daily TO classroom_analyst;
GRANT SELECT ON classroom.v_class_concentration_hourly TO classroom_analyst;

-- A view normally runs with its reader's rights, which would need grants on the tables
-- beneath. SQL SECURITY DEFINER makes the analyst views run with their owner's rights.
ALTER TABLE classroom.v_student_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_class_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_alerts MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_session_scores MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_teacher_expression_mix MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_class_sessions MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_roster MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_pipeline_health MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_face_activity_minutely MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_face_activity_hourly MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_concentration_hourly MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_concentration_daily MODIFY SQL SECURITY DEFINER;
ALTER TABLE classroom.v_class_concentration_hourly MODIFY SQL SECURITY DEFINER;
