-- Retention covers everything personal (docs/security.md, "Retention").
--
-- Before this migration only face_events and dead_letters expired; the per-person rollups
-- of face events outlived them, and per-person windows, alerts and scores were kept
-- forever. Now:
--   * what is derived from face events minute by minute or hour by hour (head pose and
--     presence per person) expires with the face events: {face_event_ttl_days} days;
--   * per-person metrics (windows, alerts, session scores, the teacher's expression mix
--     and the concentration rollups) expire after {person_metrics_ttl_days} days, a school
--     year by default, so a student's history covers the year and no more.
-- Class-wide tables (class windows and their rollup, class sessions) hold no person and
-- are kept. The roster is the school's own list: it changes when the school edits it.
--
-- `classroom db migrate` applies a later change of either setting (schemas/migrate.py,
-- TTL_TABLES lists these tables).

ALTER TABLE face_activity_1m MODIFY TTL toDateTime(minute) + INTERVAL {face_event_ttl_days} DAY;
ALTER TABLE face_activity_1h MODIFY TTL toDateTime(hour) + INTERVAL {face_event_ttl_days} DAY;

ALTER TABLE student_windows MODIFY TTL toDateTime(window_start) + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE alerts MODIFY TTL toDateTime(started_at) + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE session_scores MODIFY TTL toDateTime(started_at) + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE teacher_expression_mix MODIFY TTL toDateTime(started_at) + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE student_concentration_1h MODIFY TTL toDateTime(hour) + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE student_concentration_1d MODIFY TTL toDateTime(day) + INTERVAL {person_metrics_ttl_days} DAY;

-- The analysts' and Grafana's users may read the v_* views and nothing else
-- (schemas/roles.sql): each view reads its tables with its definer's rights, not theirs.
ALTER TABLE v_student_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_class_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_alerts MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_session_scores MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_teacher_expression_mix MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_class_sessions MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_roster MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_pipeline_health MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_face_activity_minutely MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_face_activity_hourly MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_concentration_hourly MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_concentration_daily MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_class_concentration_hourly MODIFY SQL SECURITY DEFINER;
