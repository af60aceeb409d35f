-- Rollups: materialized views that aggregate every insert into per-minute, per-hour and
-- per-day tables, so that dashboards over a year read thousands of rows, not billions.
--
-- Each rollup stores sums and counts (SimpleAggregateFunction), never means: a mean over
-- any range is sum(x_sum) / sum(windows), exact however the rows were merged.
--
-- Replays: a replayed insert batch (same rows, or same deduplication token) is dropped
-- with its rollup rows, because every rollup table keeps a deduplication window too. A
-- replay cut into different batches is counted again by the rollups (the raw tables and
-- their FINAL views still count it once); docs/warehouse.md describes how to rebuild a
-- period of a rollup when that matters.

-- Face detections per person and minute: presence, fatigue signals, expression labels.
CREATE TABLE IF NOT EXISTS face_activity_1m
(
    classroom_id LowCardinality(String),
    minute DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    session_id String,
    person_id LowCardinality(String),
    school_id SimpleAggregateFunction(any, LowCardinality(String)),
    course SimpleAggregateFunction(any, LowCardinality(String)),
    role SimpleAggregateFunction(any, LowCardinality(String)),
    faces SimpleAggregateFunction(sum, UInt64),
    det_score_sum SimpleAggregateFunction(sum, Float64),
    ear_sum SimpleAggregateFunction(sum, Float64),
    mar_sum SimpleAggregateFunction(sum, Float64),
    abs_yaw_sum SimpleAggregateFunction(sum, Float64),
    abs_pitch_sum SimpleAggregateFunction(sum, Float64),
    -- Faces by expression label; they add up to fewer than faces when emotion is off.
    angry SimpleAggregateFunction(sum, UInt64),
    disgust SimpleAggregateFunction(sum, UInt64),
    fear SimpleAggregateFunction(sum, UInt64),
    happy SimpleAggregateFunction(sum, UInt64),
    sad SimpleAggregateFunction(sum, UInt64),
    surprise SimpleAggregateFunction(sum, UInt64),
    neutral SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (classroom_id, minute, session_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS face_activity_1m_mv TO face_activity_1m AS
SELECT
    classroom_id,
    toStartOfMinute(captured_at) AS minute,
    session_id,
    person_id,
    any(school_id) AS school_id,
    any(course) AS course,
    any(role) AS role,
    count() AS faces,
    sum(det_score) AS det_score_sum,
    sum((ear_left + ear_right) / 2) AS ear_sum,
    sum(mar) AS mar_sum,
    sum(abs(yaw)) AS abs_yaw_sum,
    sum(abs(pitch)) AS abs_pitch_sum,
    countIf(expression_label = 'angry') AS angry,
    countIf(expression_label = 'disgust') AS disgust,
    countIf(expression_label = 'fear') AS fear,
    countIf(expression_label = 'happy') AS happy,
    countIf(expression_label = 'sad') AS sad,
    countIf(expression_label = 'surprise') AS surprise,
    countIf(expression_label = 'neutral') AS neutral
FROM face_events
GROUP BY classroom_id, minute, session_id, person_id;

-- The same per hour: a year of a whole school in a few million rows.
CREATE TABLE IF NOT EXISTS face_activity_1h
(
    classroom_id LowCardinality(String),
    hour DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    session_id String,
    person_id LowCardinality(String),
    school_id SimpleAggregateFunction(any, LowCardinality(String)),
    course SimpleAggregateFunction(any, LowCardinality(String)),
    role SimpleAggregateFunction(any, LowCardinality(String)),
    faces SimpleAggregateFunction(sum, UInt64),
    det_score_sum SimpleAggregateFunction(sum, Float64),
    ear_sum SimpleAggregateFunction(sum, Float64),
    mar_sum SimpleAggregateFunction(sum, Float64),
    abs_yaw_sum SimpleAggregateFunction(sum, Float64),
    abs_pitch_sum SimpleAggregateFunction(sum, Float64),
    angry SimpleAggregateFunction(sum, UInt64),
    disgust SimpleAggregateFunction(sum, UInt64),
    fear SimpleAggregateFunction(sum, UInt64),
    happy SimpleAggregateFunction(sum, UInt64),
    sad SimpleAggregateFunction(sum, UInt64),
    surprise SimpleAggregateFunction(sum, UInt64),
    neutral SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (classroom_id, hour, session_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS face_activity_1h_mv TO face_activity_1h AS
SELECT
    classroom_id,
    toStartOfHour(captured_at) AS hour,
    session_id,
    person_id,
    any(school_id) AS school_id,
    any(course) AS course,
    any(role) AS role,
    count() AS faces,
    sum(det_score) AS det_score_sum,
    sum((ear_left + ear_right) / 2) AS ear_sum,
    sum(mar) AS mar_sum,
    sum(abs(yaw)) AS abs_yaw_sum,
    sum(abs(pitch)) AS abs_pitch_sum,
    countIf(expression_label = 'angry') AS angry,
    countIf(expression_label = 'disgust') AS disgust,
    countIf(expression_label = 'fear') AS fear,
    countIf(expression_label = 'happy') AS happy,
    countIf(expression_label = 'sad') AS sad,
    countIf(expression_label = 'surprise') AS surprise,
    countIf(expression_label = 'neutral') AS neutral
FROM face_events
GROUP BY classroom_id, hour, session_id, person_id;

-- Student windows per person and hour: concentration, attention, fatigue, bands.
CREATE TABLE IF NOT EXISTS student_concentration_1h
(
    classroom_id LowCardinality(String),
    hour DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    session_id String,
    person_id LowCardinality(String),
    school_id SimpleAggregateFunction(any, LowCardinality(String)),
    course SimpleAggregateFunction(any, LowCardinality(String)),
    role SimpleAggregateFunction(any, LowCardinality(String)),
    windows SimpleAggregateFunction(sum, UInt64),
    seconds SimpleAggregateFunction(sum, Float64),
    concentration_sum SimpleAggregateFunction(sum, Float64),
    attention_sum SimpleAggregateFunction(sum, Float64),
    presence_sum SimpleAggregateFunction(sum, Float64),
    perclos_sum SimpleAggregateFunction(sum, Float64),
    blinks SimpleAggregateFunction(sum, UInt64),
    yawns SimpleAggregateFunction(sum, UInt64),
    look_around_episodes SimpleAggregateFunction(sum, UInt64),
    low_windows SimpleAggregateFunction(sum, UInt64),
    nominal_windows SimpleAggregateFunction(sum, UInt64),
    high_windows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (classroom_id, hour, session_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

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
    sum(perclos) AS perclos_sum,
    sum(blinks) AS blinks,
    sum(yawns) AS yawns,
    sum(look_around_episodes) AS look_around_episodes,
    countIf(band = 'low') AS low_windows,
    countIf(band = 'nominal') AS nominal_windows,
    countIf(band = 'high') AS high_windows
FROM student_windows
GROUP BY classroom_id, hour, session_id, person_id;

-- Per person and day, by course: the year-long per-student view.
CREATE TABLE IF NOT EXISTS student_concentration_1d
(
    classroom_id LowCardinality(String),
    day Date,
    course LowCardinality(String),
    person_id LowCardinality(String),
    school_id SimpleAggregateFunction(any, LowCardinality(String)),
    role SimpleAggregateFunction(any, LowCardinality(String)),
    sessions SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    windows SimpleAggregateFunction(sum, UInt64),
    seconds SimpleAggregateFunction(sum, Float64),
    concentration_sum SimpleAggregateFunction(sum, Float64),
    attention_sum SimpleAggregateFunction(sum, Float64),
    presence_sum SimpleAggregateFunction(sum, Float64),
    perclos_sum SimpleAggregateFunction(sum, Float64),
    low_windows SimpleAggregateFunction(sum, UInt64),
    nominal_windows SimpleAggregateFunction(sum, UInt64),
    high_windows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(day)
ORDER BY (classroom_id, day, course, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

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
    sum(perclos) AS perclos_sum,
    countIf(band = 'low') AS low_windows,
    countIf(band = 'nominal') AS nominal_windows,
    countIf(band = 'high') AS high_windows
FROM student_windows
GROUP BY classroom_id, day, course, person_id;

-- Class windows per classroom and hour.
CREATE TABLE IF NOT EXISTS class_concentration_1h
(
    classroom_id LowCardinality(String),
    hour DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    session_id String,
    school_id SimpleAggregateFunction(any, LowCardinality(String)),
    course SimpleAggregateFunction(any, LowCardinality(String)),
    windows SimpleAggregateFunction(sum, UInt64),
    concentration_mean_sum SimpleAggregateFunction(sum, Float64),
    students_present_sum SimpleAggregateFunction(sum, UInt64),
    share_high_sum SimpleAggregateFunction(sum, Float64),
    share_nominal_sum SimpleAggregateFunction(sum, Float64),
    share_low_sum SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (classroom_id, hour, session_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS class_concentration_1h_mv TO class_concentration_1h AS
SELECT
    classroom_id,
    toStartOfHour(window_start) AS hour,
    session_id,
    any(school_id) AS school_id,
    any(course) AS course,
    count() AS windows,
    sum(concentration_mean) AS concentration_mean_sum,
    sum(students_present) AS students_present_sum,
    sum(share_high) AS share_high_sum,
    sum(share_nominal) AS share_nominal_sum,
    sum(share_low) AS share_low_sum
FROM class_windows
GROUP BY classroom_id, hour, session_id;
