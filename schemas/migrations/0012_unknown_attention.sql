-- Attention unknown (NULL), not 0, when nothing of the head was known; the class rollup
-- keeps its unknown shares.
--
-- A student window in which no head state was known (all of the present time unknown, or
-- the person absent) has no attention: NULL, as its concentration has been since 0009.
-- Rows stored before this migration keep the 0 they were stored with (the rollups summed
-- it already, so the raw rows and the rollups stay in agreement).
--
-- The student rollups count the windows with an attention (attention_windows) and mean
-- over those only; hours rolled up before this migration count every window, as every
-- window then had a number.
--
-- The hourly class rollup sums the two unknown shares of the class windows (0009):
-- share_unknown (share of the present students whose window is band 'unknown') and
-- unknown_share (their mean share of unknown head-state time), and counts the windows
-- rolled up with them (unknown_share_windows). Hours rolled up before this migration did
-- not keep them: there the view reads NULL (unknown), never 0.

ALTER TABLE student_windows MODIFY COLUMN attention Nullable(Float32);

-- A view keeps the column types it was created with (a NULL read through the old one is
-- an error): recreated, unchanged.
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

ALTER TABLE student_concentration_1h ADD COLUMN IF NOT EXISTS attention_windows SimpleAggregateFunction(sum, UInt64) AFTER attention_sum;
ALTER TABLE student_concentration_1d ADD COLUMN IF NOT EXISTS attention_windows SimpleAggregateFunction(sum, UInt64) AFTER attention_sum;
ALTER TABLE student_concentration_1h UPDATE attention_windows = windows WHERE attention_windows = 0;
ALTER TABLE student_concentration_1d UPDATE attention_windows = windows WHERE attention_windows = 0;

ALTER TABLE class_concentration_1h ADD COLUMN IF NOT EXISTS share_unknown_sum SimpleAggregateFunction(sum, Float64) AFTER share_low_sum;
ALTER TABLE class_concentration_1h ADD COLUMN IF NOT EXISTS unknown_share_sum SimpleAggregateFunction(sum, Float64) AFTER share_unknown_sum;
ALTER TABLE class_concentration_1h ADD COLUMN IF NOT EXISTS unknown_share_windows SimpleAggregateFunction(sum, UInt64) AFTER unknown_share_sum;

-- The materialized views of 0009 cannot sum a NULL attention, nor kept the unknown
-- shares: replaced.
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
    sum(ifNull(attention, 0)) AS attention_sum,
    countIf(attention IS NOT NULL) AS attention_windows,
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
    sum(ifNull(attention, 0)) AS attention_sum,
    countIf(attention IS NOT NULL) AS attention_windows,
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
    sum(share_low) AS share_low_sum,
    sum(share_unknown) AS share_unknown_sum,
    sum(unknown_share) AS unknown_share_sum,
    count() AS unknown_share_windows
FROM class_windows
GROUP BY classroom_id, hour, session_id;

-- The analysts' rollup views: attention means over the windows that had one
-- (NULL where none had); the class view gains the unknown shares.
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
    sum(attention_windows) AS attention_windows,
    sum(attention_sum) / nullIf(attention_windows, 0) AS attention,
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
    sum(attention_windows) AS attention_windows,
    sum(attention_sum) / nullIf(attention_windows, 0) AS attention,
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
    sum(share_low_sum) / windows AS share_low,
    sum(unknown_share_windows) AS unknown_share_windows,
    sum(share_unknown_sum) / nullIf(unknown_share_windows, 0) AS share_unknown,
    sum(unknown_share_sum) / nullIf(unknown_share_windows, 0) AS unknown_share
FROM class_concentration_1h
GROUP BY classroom_id, hour, session_id;

-- A replaced view is created with the default security: read its tables as its definer
-- again, as 0005 set (schemas/roles.sql grants readers the views only).
ALTER TABLE v_student_windows MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_concentration_hourly MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_concentration_daily MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_class_concentration_hourly MODIFY SQL SECURITY DEFINER;
