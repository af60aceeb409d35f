-- Eye state from the eye-state network (docs/metrics.md, "Eyes"), and "unknown" where
-- the eyes cannot be read: NULL, never 0.

-- Probability (0-1) that the face's eyes are closed; NULL where the face is too small
-- for its eyes to be read, and on rows stored before this migration.
ALTER TABLE face_events ADD COLUMN IF NOT EXISTS eye_closed Nullable(Float32) AFTER mar;

-- Blinks and PERCLOS of a window in which no face had readable eyes are unknown (NULL).
ALTER TABLE student_windows MODIFY COLUMN blinks Nullable(UInt32);
ALTER TABLE student_windows MODIFY COLUMN blink_rate_per_min Nullable(Float32);
ALTER TABLE student_windows MODIFY COLUMN perclos Nullable(Float32);

-- The open-eye EAR baseline is no longer computed: NULL from now on.
ALTER TABLE student_windows MODIFY COLUMN ear_baseline Nullable(Float32);

-- Capture times (epoch seconds) of the first and last closed sample of each blink.
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS blink_starts Array(Float64) AFTER perclos;
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS blink_ends Array(Float64) AFTER blink_starts;

-- The per-person rollups mean PERCLOS over the windows whose eyes were read (eye_windows),
-- not over all windows: an unknown window is left out, never counted as eyes open.
ALTER TABLE student_concentration_1h ADD COLUMN IF NOT EXISTS eye_windows SimpleAggregateFunction(sum, UInt64) AFTER perclos_sum;
ALTER TABLE student_concentration_1d ADD COLUMN IF NOT EXISTS eye_windows SimpleAggregateFunction(sum, UInt64) AFTER perclos_sum;

-- Rows rolled up before this migration: every window then had a PERCLOS.
ALTER TABLE student_concentration_1h UPDATE eye_windows = windows WHERE eye_windows = 0;
ALTER TABLE student_concentration_1d UPDATE eye_windows = windows WHERE eye_windows = 0;

-- The materialized views of 0002 cannot sum a NULL into their rollups: replaced.
DROP VIEW IF EXISTS student_concentration_1h_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS student_concentration_1h_mv TO student_concentration_1h AS
SELECT
    classroom_id,
    toStartOfHour(window_start) AS hour,
    session_id,
    person_id,
    any(school_id) AS school_id,
    any(course) AS course,
    any(role) AS role,
    count() AS windows,
    sum(window_seconds) AS seconds,
    sum(concentration) AS concentration_sum,
    sum(attention) AS attention_sum,
    sum(presence) AS presence_sum,
    sum(ifNull(perclos, 0)) AS perclos_sum,
    countIf(perclos IS NOT NULL) AS eye_windows,
    sum(ifNull(blinks, 0)) AS blinks,
    sum(yawns) AS yawns,
    sum(look_around_episodes) AS look_around_episodes,
    countIf(band = 'low') AS low_windows,
    countIf(band = 'nominal') AS nominal_windows,
    countIf(band = 'high') AS high_windows
FROM student_windows
GROUP BY classroom_id, hour, session_id, person_id;

DROP VIEW IF EXISTS student_concentration_1d_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS student_concentration_1d_mv TO student_concentration_1d AS
SELECT
    classroom_id,
    toDate(window_start) AS day,
    course,
    person_id,
    any(school_id) AS school_id,
    any(role) AS role,
    groupUniqArray(session_id) AS sessions,
    count() AS windows,
    sum(window_seconds) AS seconds,
    sum(concentration) AS concentration_sum,
    sum(attention) AS attention_sum,
    sum(presence) AS presence_sum,
    sum(ifNull(perclos, 0)) AS perclos_sum,
    countIf(perclos IS NOT NULL) AS eye_windows,
    countIf(band = 'low') AS low_windows,
    countIf(band = 'nominal') AS nominal_windows,
    countIf(band = 'high') AS high_windows
FROM student_windows
GROUP BY classroom_id, day, course, person_id;

-- The analysts' views: blink times per window, and PERCLOS over the windows with eyes read.
CREATE OR REPLACE VIEW v_student_windows AS
SELECT
    school_id,
    classroom_id,
    session_id,
    course,
    person_id,
    role,
    window_start,
    window_start + toIntervalMillisecond(toInt64(window_seconds * 1000)) AS window_end,
    window_seconds,
    frames_sampled,
    frames_seen,
    presence,
    attention,
    look_around_episodes,
    blinks,
    blink_rate_per_min,
    perclos,
    blink_starts,
    blink_ends,
    yawns,
    ear_baseline,
    expression_mix,
    dominant_expression,
    emotion_weight,
    concentration,
    band
FROM student_windows FINAL;

CREATE OR REPLACE VIEW v_concentration_hourly AS
SELECT
    classroom_id,
    hour,
    session_id,
    person_id,
    any(school_id) AS school_id,
    any(course) AS course,
    any(role) AS role,
    sum(windows) AS windows,
    sum(seconds) AS seconds,
    sum(concentration_sum) AS concentration_total,
    sum(concentration_sum) / windows AS concentration,
    sum(attention_sum) / windows AS attention,
    sum(presence_sum) / windows AS presence,
    sum(perclos_sum) / nullIf(sum(eye_windows), 0) AS perclos,
    sum(blinks) AS blinks,
    sum(yawns) AS yawns,
    sum(look_around_episodes) AS look_around_episodes,
    sum(low_windows) AS low_windows,
    sum(nominal_windows) AS nominal_windows,
    sum(high_windows) AS high_windows
FROM student_concentration_1h
GROUP BY classroom_id, hour, session_id, person_id;

CREATE OR REPLACE VIEW v_concentration_daily AS
SELECT
    classroom_id,
    day,
    course,
    person_id,
    any(school_id) AS school_id,
    any(role) AS role,
    length(groupUniqArrayArray(sessions)) AS sessions,
    sum(windows) AS windows,
    sum(seconds) AS seconds,
    sum(concentration_sum) AS concentration_total,
    sum(concentration_sum) / windows AS concentration,
    sum(attention_sum) / windows AS attention,
    sum(presence_sum) / windows AS presence,
    sum(perclos_sum) / nullIf(sum(eye_windows), 0) AS perclos,
    sum(low_windows) AS low_windows,
    sum(nominal_windows) AS nominal_windows,
    sum(high_windows) AS high_windows
FROM student_concentration_1d
GROUP BY classroom_id, day, course, person_id;
