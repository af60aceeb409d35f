-- `stored_at` in milliseconds, and on class windows too.
--
-- Migration 0006 added `stored_at` as a DateTime, whole seconds: a latency measured from a
-- row's own timestamps (capture -> face row, window close -> window row) was then only
-- known to within a second, too coarse for latencies of one or two seconds. DateTime64(3)
-- keeps the milliseconds; the retention TTLs (0006) read it as before.
--
-- Class windows had no `stored_at`, so their latency could not be measured at all. Rows
-- stored before this migration take their window start as their storage time (the best
-- estimate there is, as in 0006); class windows hold no personal data and get no TTL.
--
-- The rollups keep their whole-second `stored_at`: it only dates their retention.

ALTER TABLE face_events MODIFY COLUMN stored_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE dead_letters MODIFY COLUMN stored_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE student_windows MODIFY COLUMN stored_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE alerts MODIFY COLUMN stored_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE session_scores MODIFY COLUMN stored_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE teacher_expression_mix MODIFY COLUMN stored_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE class_windows ADD COLUMN IF NOT EXISTS stored_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE class_windows UPDATE stored_at = window_start WHERE 1;
