-- Head states (docs/metrics.md, "Head states"): each window says how the person's present
-- time divided between facing the front, down at the desk (engaged or resting), away and
-- unknown (a pose that could not be read, or a person unseen for a moment); its
-- concentration is over the known time only, and a window mostly unknown has band
-- 'unknown'. Each class window stores the front the states were measured from.
--
-- Rows stored before this migration read 0 for the shares and 'default' for the front.
--
-- A window in which no head state was known has no concentration: NULL (unknown), never
-- 0; a class window whose present students were all unknown has no class statistics.
-- The rollups count the windows with a concentration (concentration_windows) and mean over
-- those only, and count the windows of band 'unknown' beside the other bands.

ALTER TABLE student_windows MODIFY COLUMN concentration Nullable(Float32);
ALTER TABLE class_windows MODIFY COLUMN concentration_mean Nullable(Float32);
ALTER TABLE class_windows MODIFY COLUMN concentration_p10 Nullable(Float32);
ALTER TABLE class_windows MODIFY COLUMN concentration_p50 Nullable(Float32);
ALTER TABLE class_windows MODIFY COLUMN concentration_p90 Nullable(Float32);

ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS front_share Float32 DEFAULT 0 AFTER band;
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS down_share Float32 DEFAULT 0 AFTER front_share;
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS rest_share Float32 DEFAULT 0 AFTER down_share;
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS away_share Float32 DEFAULT 0 AFTER rest_share;
ALTER TABLE student_windows ADD COLUMN IF NOT EXISTS unknown_share Float32 DEFAULT 0 AFTER away_share;

-- share_unknown: share of the present students whose window is band 'unknown' (left out of
-- the concentration statistics); unknown_share: their mean share of unknown time.
-- front_yaw_deg / front_pitch_deg: NULL while the front is neither configured nor learned.
ALTER TABLE class_windows ADD COLUMN IF NOT EXISTS share_unknown Float32 DEFAULT 0 AFTER share_low;
ALTER TABLE class_windows ADD COLUMN IF NOT EXISTS unknown_share Float32 DEFAULT 0 AFTER share_unknown;
ALTER TABLE class_windows ADD COLUMN IF NOT EXISTS front_yaw_deg Nullable(Float32) AFTER unknown_share;
ALTER TABLE class_windows ADD COLUMN IF NOT EXISTS front_pitch_deg Nullable(Float32) AFTER front_yaw_deg;
ALTER TABLE class_windows ADD COLUMN IF NOT EXISTS front_source LowCardinality(String) DEFAULT 'default' AFTER front_pitch_deg;

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
    band,
    front_share,
    down_share,
    rest_share,
    away_share,
    unknown_share
FROM student_windows FINAL;

CREATE OR REPLACE VIEW v_class_windows AS
SELECT
    school_id,
    classroom_id,
    session_id,
    course,
    window_start,
    window_start + toIntervalMillisecond(toInt64(window_seconds * 1000)) AS window_end,
    window_seconds,
    students_present,
    students_known,
    concentration_mean,
    concentration_p10,
    concentration_p50,
    concentration_p90,
    share_high,
    share_nominal,
    share_low,
    share_unknown,
    unknown_share,
    front_yaw_deg,
    front_pitch_deg,
    front_source
FROM class_windows FINAL;

ALTER TABLE student_concentration_1h ADD COLUMN IF NOT EXISTS concentration_windows SimpleAggregateFunction(sum, UInt64) AFTER concentration_sum;
ALTER TABLE student_concentration_1d ADD COLUMN IF NOT EXISTS concentration_windows SimpleAggregateFunction(sum, UInt64) AFTER concentration_sum;
ALTER TABLE class_concentration_1h ADD COLUMN IF NOT EXISTS concentration_windows SimpleAggregateFunction(sum, UInt64) AFTER concentration_mean_sum;
ALTER TABLE student_concentration_1h ADD COLUMN IF NOT EXISTS unknown_windows SimpleAggregateFunction(sum, UInt64) AFTER high_windows;
ALTER TABLE student_concentration_1d ADD COLUMN IF NOT EXISTS unknown_windows SimpleAggregateFunction(sum, UInt64) AFTER high_windows;

-- Rows rolled up before this migration: every window then had a concentration.
ALTER TABLE student_concentration_1h UPDATE concentration_windows = windows WHERE concentration_windows = 0;
ALTER TABLE student_concentration_1d UPDATE concentration_windows = windows WHERE concentration_windows = 0;
ALTER TABLE class_concentration_1h UPDATE concentration_windows = windows WHERE concentration_windows = 0;

-- The materialized views of 0004 and 0002 cannot sum a NULL concentration: replaced.
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
    sum(ifNull(concentration, 0)) AS concentration_sum,
    countIf(concentration IS NOT NULL) AS concentration_windows,
    sum(attention) AS attention_sum,
    sum(presence) AS presence_sum,
    sum(ifNull(perclos, 0)) AS perclos_sum,
    countIf(perclos IS NOT NULL) AS eye_windows,
    sum(ifNull(blinks, 0)) AS blinks,
    sum(yawns) AS yawns,
    sum(look_around_episodes) AS look_around_episodes,
    countIf(band = 'low') AS low_windows,
    countIf(band = 'nominal') AS nominal_windows,
    countIf(band = 'high') AS high_windows,
    countIf(band = 'unknown') AS unknown_windows
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
    sum(ifNull(concentration, 0)) AS concentration_sum,
    countIf(concentration IS NOT NULL) AS concentration_windows,
    sum(attention) AS attention_sum,
    sum(presence) AS presence_sum,
    sum(ifNull(perclos, 0)) AS perclos_sum,
    countIf(perclos IS NOT NULL) AS eye_windows,
    countIf(band = 'low') AS low_windows,
    countIf(band = 'nominal') AS nominal_windows,
    countIf(band = 'high') AS high_windows,
    countIf(band = 'unknown') AS unknown_windows
FROM student_windows
GROUP BY classroom_id, day, course, person_id;

DROP VIEW IF EXISTS class_concentration_1h_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS class_concentration_1h_mv TO class_concentration_1h AS
SELECT
    classroom_id,
    toStartOfHour(window_start) AS hour,
    session_id,
    any(school_id) AS school_id,
    any(course) AS course,
    count() AS windows,
    sum(ifNull(concentration_mean, 0)) AS concentration_mean_sum,
    countIf(concentration_mean IS NOT NULL) AS concentration_windows,
    sum(students_present) AS students_present_sum,
    sum(share_high) AS share_high_sum,
    sum(share_nominal) AS share_nominal_sum,
    sum(share_low) AS share_low_sum
FROM class_windows
GROUP BY classroom_id, hour, session_id;

-- The analysts' rollup views: concentration means over the windows that had one
-- (concentration_total / concentration_windows), NULL where none had.
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
    sum(concentration_windows) AS concentration_windows,
    concentration_total / nullIf(concentration_windows, 0) AS concentration,
    sum(attention_sum) / windows AS attention,
    sum(presence_sum) / windows AS presence,
    sum(perclos_sum) / nullIf(sum(eye_windows), 0) AS perclos,
    sum(blinks) AS blinks,
    sum(yawns) AS yawns,
    sum(look_around_episodes) AS look_around_episodes,
    sum(low_windows) AS low_windows,
    sum(nominal_windows) AS nominal_windows,
    sum(high_windows) AS high_windows,
    sum(unknown_windows) AS unknown_windows
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
    sum(concentration_windows) AS concentration_windows,
    concentration_total / nullIf(concentration_windows, 0) AS concentration,
    sum(attention_sum) / windows AS attention,
    sum(presence_sum) / windows AS presence,
    sum(perclos_sum) / nullIf(sum(eye_windows), 0) AS perclos,
    sum(low_windows) AS low_windows,
    sum(nominal_windows) AS nominal_windows,
    sum(high_windows) AS high_windows,
    sum(unknown_windows) AS unknown_windows
FROM student_concentration_1d
GROUP BY classroom_id, day, course, person_id;

CREATE OR REPLACE VIEW v_class_concentration_hourly AS
SELECT
    classroom_id,
    hour,
    session_id,
    any(school_id) AS school_id,
    any(course) AS course,
    sum(windows) AS windows,
    sum(concentration_mean_sum) AS concentration_total,
    sum(concentration_windows) AS concentration_windows,
    concentration_total / nullIf(concentration_windows, 0) AS concentration,
    sum(students_present_sum) / windows AS students_present,
    sum(share_high_sum) / windows AS share_high,
    sum(share_nominal_sum) / windows AS share_nominal,
    sum(share_low_sum) / windows AS share_low
FROM class_concentration_1h
GROUP BY classroom_id, hour, session_id;

-- A replaced view is created with the default security: read its tables as its definer
-- again, as 0005 set (schemas/roles.sql grants readers the views only).
ALTER TABLE v_student_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_class_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_concentration_hourly MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_concentration_daily MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_class_concentration_hourly MODIFY SQL SECURITY DEFINER;
