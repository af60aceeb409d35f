-- Core tables: one per event type of schemas/events.py, plus roster and class sessions.
--
-- Conventions (see docs/warehouse.md):
-- * Times are DateTime64(3, 'UTC'); the events carry float epoch seconds.
-- * Every table is a ReplacingMergeTree whose ORDER BY is the row's identity (event id,
--   window, alert id), so a replayed row collapses into the first at merge time, and the
--   analyst views read with FINAL so replays never double count before that.
-- * non_replicated_deduplication_window drops a replayed insert batch outright (same rows
--   or same insert_deduplication_token), including its materialized-view rows.
-- * ORDER BY starts with classroom_id: dashboards and analysts ask per classroom.
-- * Statements end with a semicolon at the end of a line, and comments never do.

-- One face in one sampled frame. The largest table by far, hence the TTL.
CREATE TABLE IF NOT EXISTS face_events
(
    event_id String CODEC(ZSTD(1)),
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    camera_id LowCardinality(String),
    session_id String CODEC(ZSTD(1)),
    course LowCardinality(String),
    frame_seq UInt64 CODEC(Delta, ZSTD(1)),
    captured_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    face_index UInt16,
    frame_faces UInt16,
    track_id UInt32,
    person_id LowCardinality(String),
    role LowCardinality(String),
    identity_source LowCardinality(String),
    box_x Int32,
    box_y Int32,
    box_width Int32,
    box_height Int32,
    det_score Float32,
    face_px UInt32,
    sharpness Float32,
    ear_left Float32 CODEC(Gorilla, ZSTD(1)),
    ear_right Float32 CODEC(Gorilla, ZSTD(1)),
    mar Float32 CODEC(Gorilla, ZSTD(1)),
    yaw Float32,
    pitch Float32,
    roll Float32,
    -- Expression probabilities in EXPRESSIONS order; NULL when emotion inference is off.
    p_angry Nullable(Float32),
    p_disgust Nullable(Float32),
    p_fear Nullable(Float32),
    p_happy Nullable(Float32),
    p_sad Nullable(Float32),
    p_surprise Nullable(Float32),
    p_neutral Nullable(Float32),
    expression_label LowCardinality(Nullable(String)),
    expression_intensity LowCardinality(Nullable(String))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(captured_at)
ORDER BY (classroom_id, captured_at, event_id)
TTL toDateTime(captured_at) + INTERVAL {face_event_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- One closed window of one person. A recomputed window (late events) replaces the
-- earlier one: without a version column, ReplacingMergeTree keeps the last inserted row.
CREATE TABLE IF NOT EXISTS student_windows
(
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    session_id String,
    course LowCardinality(String),
    person_id LowCardinality(String),
    role LowCardinality(String),
    window_start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    window_seconds Float32,
    frames_sampled UInt32,
    frames_seen UInt32,
    presence Float32,
    attention Float32,
    look_around_episodes UInt32,
    blinks UInt32,
    blink_rate_per_min Float32,
    perclos Float32,
    yawns UInt32,
    ear_baseline Float32,
    expression_mix Map(LowCardinality(String), Float32),
    dominant_expression LowCardinality(Nullable(String)),
    emotion_weight Nullable(Float32),
    concentration Float32,
    band LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (classroom_id, session_id, person_id, window_seconds, window_start)
SETTINGS non_replicated_deduplication_window = 1000;

-- One closed window of one class.
CREATE TABLE IF NOT EXISTS class_windows
(
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    session_id String,
    course LowCardinality(String),
    window_start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    window_seconds Float32,
    students_present UInt32,
    students_known UInt32,
    concentration_mean Float32,
    concentration_p10 Float32,
    concentration_p50 Float32,
    concentration_p90 Float32,
    share_high Float32,
    share_nominal Float32,
    share_low Float32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (classroom_id, session_id, window_seconds, window_start)
SETTINGS non_replicated_deduplication_window = 1000;

-- One alert per episode; alert_id is deterministic, so a replay is the same row.
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id String,
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    session_id String,
    person_id LowCardinality(String),
    kind LowCardinality(String),
    started_at DateTime64(3, 'UTC'),
    raised_at DateTime64(3, 'UTC'),
    reason String,
    values Map(LowCardinality(String), Float32)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (classroom_id, started_at, alert_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- One record per person at the end of a class session.
CREATE TABLE IF NOT EXISTS session_scores
(
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    session_id String,
    course LowCardinality(String),
    person_id LowCardinality(String),
    role LowCardinality(String),
    started_at DateTime64(3, 'UTC'),
    ended_at DateTime64(3, 'UTC'),
    mean_concentration Float32,
    attention_share Float32,
    presence Float32,
    alerts UInt32,
    score Float32,
    explanation String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (classroom_id, session_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Per teacher and lesson: share of observed frames in each of the 13 intensity classes
-- (INTENSITY_CLASSES), one named column each so that Grafana can stack them directly.
CREATE TABLE IF NOT EXISTS teacher_expression_mix
(
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    session_id String,
    course LowCardinality(String),
    person_id LowCardinality(String),
    started_at DateTime64(3, 'UTC'),
    ended_at DateTime64(3, 'UTC'),
    frames UInt32,
    neutral Float32,
    angry_weak Float32,
    angry_strong Float32,
    disgust_weak Float32,
    disgust_strong Float32,
    fear_weak Float32,
    fear_strong Float32,
    happy_weak Float32,
    happy_strong Float32,
    sad_weak Float32,
    sad_strong Float32,
    surprise_weak Float32,
    surprise_strong Float32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (classroom_id, session_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Who is who: students and teachers, their seat, and what they consented to.
CREATE TABLE IF NOT EXISTS roster
(
    school_id LowCardinality(String),
    person_id String,
    display_name String DEFAULT '',
    role LowCardinality(String),
    classroom_id LowCardinality(String) DEFAULT '',
    seat String DEFAULT '',
    consent_emotion Bool DEFAULT false,
    consent_face Bool DEFAULT false,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (school_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Periodic counters of every pipeline process.
CREATE TABLE IF NOT EXISTS pipeline_health
(
    worker_id LowCardinality(String),
    role LowCardinality(String),
    at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    frames_in UInt64,
    faces UInt64,
    lag Int64,
    drops UInt64,
    errors UInt64,
    batch_latency_ms Float32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (role, worker_id, at)
SETTINGS non_replicated_deduplication_window = 1000;

-- Messages that failed validation. Payloads may hold personal data (face events), so
-- they expire with the face events.
CREATE TABLE IF NOT EXISTS dead_letters
(
    source_topic LowCardinality(String),
    partition Int32,
    offset Int64,
    reason String,
    payload String CODEC(ZSTD(3)),
    payload_size UInt32,
    failed_at DateTime64(3, 'UTC'),
    worker_id LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY (source_topic, partition, offset)
TTL toDateTime(failed_at) + INTERVAL {face_event_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Class sessions, derived from the class windows: first and last window, peak presence.
-- min/max/any are idempotent, so replayed windows cannot distort a session.
CREATE TABLE IF NOT EXISTS class_sessions
(
    classroom_id LowCardinality(String),
    session_id String,
    school_id SimpleAggregateFunction(any, LowCardinality(String)),
    course SimpleAggregateFunction(any, LowCardinality(String)),
    started_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    ended_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    students_present_max SimpleAggregateFunction(max, UInt32),
    students_known_max SimpleAggregateFunction(max, UInt32)
)
ENGINE = AggregatingMergeTree
ORDER BY (classroom_id, session_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS class_sessions_mv TO class_sessions AS
SELECT
    classroom_id,
    session_id,
    any(school_id) AS school_id,
    any(course) AS course,
    min(window_start) AS started_at,
    max(window_start + toIntervalMillisecond(toInt64(window_seconds * 1000))) AS ended_at,
    max(students_present) AS students_present_max,
    max(students_known) AS students_known_max
FROM class_windows
GROUP BY classroom_id, session_id;
