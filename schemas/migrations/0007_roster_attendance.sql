-- Roll call and the roster's history (docs/analysts.md, "Attendance" and "Roster").
--
-- The session score of an enrolled student now carries their roll call: attendance
-- (present, late, left_early, absent), when they were first and last seen, minutes
-- present and the evidence (frames seen, identity source). A student on the roster who
-- was never seen gets a row too, with concentration and attention unknown (NULL), not 0.
-- Rows of people not on a roster (anonymous tracks) and rows stored before this
-- migration have no attendance (NULL).

ALTER TABLE session_scores MODIFY COLUMN mean_concentration Nullable(Float32);
ALTER TABLE session_scores MODIFY COLUMN attention_share Nullable(Float32);
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS attendance LowCardinality(Nullable(String)) AFTER explanation;
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS first_seen_at Nullable(DateTime64(3, 'UTC')) AFTER attendance;
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS last_seen_at Nullable(DateTime64(3, 'UTC')) AFTER first_seen_at;
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS minutes_present Nullable(Float32) AFTER last_seen_at;
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS frames_seen Nullable(UInt32) AFTER minutes_present;
ALTER TABLE session_scores ADD COLUMN IF NOT EXISTS identity_source LowCardinality(Nullable(String)) AFTER frames_seen;

CREATE OR REPLACE VIEW v_session_scores AS
SELECT
    school_id,
    classroom_id,
    session_id,
    course,
    person_id,
    role,
    started_at,
    ended_at,
    mean_concentration,
    attention_share,
    presence,
    alerts,
    score,
    explanation,
    attendance,
    first_seen_at,
    last_seen_at,
    minutes_present,
    frames_seen,
    identity_source
FROM session_scores FINAL;

-- One row per enrolled student per lesson: the roll call, read from the session scores
-- so that the two can never disagree.
CREATE VIEW IF NOT EXISTS v_attendance AS
SELECT
    school_id,
    classroom_id,
    session_id,
    course,
    person_id,
    attendance AS status,
    started_at,
    ended_at,
    first_seen_at,
    last_seen_at,
    minutes_present,
    frames_seen,
    identity_source,
    score,
    mean_concentration
FROM session_scores FINAL
WHERE attendance IS NOT NULL;

-- Every imported version of a roster (`classroom roster import`, `classroom analyze
-- --roster`): one row per person per import, all rows of one import sharing its
-- updated_at; a person dropped from the file gets a row with enrolled = false. Plain
-- MergeTree: nothing replaces an older version, so the history stays queryable
-- (v_roster_history); v_roster shows each person's latest row, if still enrolled. The
-- table `roster` of 0001 was never filled by the product and is no longer read; it stays,
-- empty, because a cluster migration drops no table (schemas/migrate.py).
CREATE TABLE IF NOT EXISTS roster_versions
(
    school_id LowCardinality(String),
    classroom_id LowCardinality(String),
    person_id String,
    display_name String,
    role LowCardinality(String),
    seat String,
    consent_recording Bool,
    consent_emotion Bool,
    consent_face Bool,
    enrolled Bool DEFAULT true,
    source String DEFAULT '',
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (school_id, classroom_id, updated_at, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS v_roster_history AS
SELECT
    school_id,
    classroom_id,
    person_id,
    display_name,
    role,
    seat,
    consent_recording,
    consent_emotion,
    consent_face,
    enrolled,
    source,
    updated_at
FROM roster_versions;

CREATE OR REPLACE VIEW v_roster AS
SELECT
    school_id,
    classroom_id,
    person_id,
    display_name,
    role,
    seat,
    consent_recording,
    consent_emotion,
    consent_face,
    source,
    updated_at
FROM
(
    SELECT *
    FROM roster_versions
    ORDER BY updated_at DESC
    LIMIT 1 BY school_id, classroom_id, person_id
)
WHERE enrolled;

ALTER TABLE v_session_scores MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_attendance MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_roster_history MODIFY SQL SECURITY DEFINER;
ALTER TABLE v_roster MODIFY SQL SECURITY DEFINER;
