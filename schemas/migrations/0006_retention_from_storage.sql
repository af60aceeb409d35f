-- Retention counts from when a row was stored, not from when its scene was filmed.
--
-- Until now every TTL counted from the capture or window time. Analysing last month's
-- recording (`classroom analyze VIDEO --start-time 2026-01-01`) then stored rows that were
-- already past their retention, and the next merge deleted what had just been analysed.
-- A TTL from the storage time cannot drop a fresh analysis, and still removes each row a
-- fixed time after the platform got it, which is what a retention promise means.
--
-- Rows stored before this migration take their old time column as their storage time
-- (the best estimate there is: the live pipeline stores within seconds of capture), so
-- none of them is kept longer than it would have been.
-- The rollups keep the latest storage time of the rows they merge (max), so an hour that
-- gets more rows later is kept as long as its newest row.

ALTER TABLE face_events ADD COLUMN IF NOT EXISTS stored_at DateTime DEFAULT now();
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS stored_at DateTime DEFAULT now();
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS stored_at DateTime DEFAULT now();
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS stored_at DateTime DEFAULT now();
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS stored_at DateTime DEFAULT now();
ALTER TABLE teacher_expression_mix ADD COLUMN IF NOT EXISTS stored_at DateTime DEFAULT now();
ALTER TABLE face_activity_1m ADD COLUMN IF NOT EXISTS stored_at SimpleAggregateFunction(max, DateTime) DEFAULT now();
ALTER TABLE face_activity_1h ADD COLUMN IF NOT EXISTS stored_at SimpleAggregateFunction(max, DateTime) DEFAULT now();
ALTER TABLE student_concentration_1h ADD COLUMN IF NOT EXISTS stored_at SimpleAggregateFunction(max, DateTime) DEFAULT now();
ALTER TABLE student_concentration_1d ADD COLUMN IF NOT EXISTS stored_at SimpleAggregateFunction(max, DateTime) DEFAULT now();

ALTER TABLE face_events UPDATE stored_at = toDateTime(captured_at) WHERE 1;
ALTER TABLE dead_letters UPDATE stored_at = toDateTime(failed_at) WHERE 1;
ALTER TABLE student_windows UPDATE stored_at = toDateTime(window_start) WHERE 1;
ALTER TABLE alerts UPDATE stored_at = toDateTime(started_at) WHERE 1;
ALTER TABLE session_scores UPDATE stored_at = toDateTime(started_at) WHERE 1;
ALTER TABLE teacher_expression_mix UPDATE stored_at = toDateTime(started_at) WHERE 1;
ALTER TABLE face_activity_1m UPDATE stored_at = toDateTime(minute) WHERE 1;
ALTER TABLE face_activity_1h UPDATE stored_at = toDateTime(hour) WHERE 1;
ALTER TABLE student_concentration_1h UPDATE stored_at = toDateTime(hour) WHERE 1;
ALTER TABLE student_concentration_1d UPDATE stored_at = toDateTime(day) WHERE 1;

ALTER TABLE face_events MODIFY TTL stored_at + INTERVAL {face_event_ttl_days} DAY;
ALTER TABLE dead_letters MODIFY TTL stored_at + INTERVAL {face_event_ttl_days} DAY;
ALTER TABLE face_activity_1m MODIFY TTL stored_at + INTERVAL {face_event_ttl_days} DAY;
ALTER TABLE face_activity_1h MODIFY TTL stored_at + INTERVAL {face_event_ttl_days} DAY;
ALTER TABLE student_windows MODIFY TTL stored_at + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE alerts MODIFY TTL stored_at + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE session_scores MODIFY TTL stored_at + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE teacher_expression_mix MODIFY TTL stored_at + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE student_concentration_1h MODIFY TTL stored_at + INTERVAL {person_metrics_ttl_days} DAY;
ALTER TABLE student_concentration_1d MODIFY TTL stored_at + INTERVAL {person_metrics_ttl_days} DAY;
