-- Analyst views: the stable names analysts, Grafana and the analyst role read
-- (docs/analysts.md documents every column). Raw face events have no view: analysts see
-- windows, alerts, scores and rollups only.
--
-- Views on the event tables read with FINAL, so a replayed row is counted once even
-- before ClickHouse merges it away. Views on rollups aggregate the partial rows of the
-- AggregatingMergeTree and add means computed from the stored sums.

CREATE VIEW IF NOT EXISTS v_student_windows AS
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
    yawns,
    ear_baseline,
    expression_mix,
    dominant_expression,
    emotion_weight,
    concentration,
    band
FROM student_windows FINAL;

CREATE VIEW IF NOT EXISTS v_class_windows AS
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
    share_low
FROM class_windows FINAL;

CREATE VIEW IF NOT EXISTS v_alerts AS
SELECT
    alert_id,
    school_id,
    classroom_id,
    session_id,
    person_id,
    kind,
    started_at,
    raised_at,
    reason,
    values
FROM alerts FINAL;

CREATE VIEW IF NOT EXISTS v_session_scores AS
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
    explanation
FROM session_scores FINAL;

CREATE VIEW IF NOT EXISTS v_teacher_expression_mix AS
SELECT
    school_id,
    classroom_id,
    session_id,
    course,
    person_id,
    started_at,
    ended_at,
    frames,
    neutral,
    angry_weak,
    angry_strong,
    disgust_weak,
    disgust_strong,
    fear_weak,
    fear_strong,
    happy_weak,
    happy_strong,
    sad_weak,
    sad_strong,
    surprise_weak,
    surprise_strong
FROM teacher_expression_mix FINAL;

CREATE VIEW IF NOT EXISTS v_class_sessions AS
SELECT
    classroom_id,
    session_id,
    any(school_id) AS school_id,
    any(course) AS course,
    min(started_at) AS started_at,
    max(ended_at) AS ended_at,
    max(students_present_max) AS students_present_max,
    max(students_known_max) AS students_known_max
FROM class_sessions
GROUP BY classroom_id, session_id;

CREATE VIEW IF NOT EXISTS v_roster AS
SELECT
    school_id,
    person_id,
    display_name,
    role,
    classroom_id,
    seat,
    consent_emotion,
    consent_face,
    updated_at
FROM roster FINAL;

CREATE VIEW IF NOT EXISTS v_pipeline_health AS
SELECT
    worker_id,
    role,
    at,
    frames_in,
    faces,
    lag,
    drops,
    errors,
    batch_latency_ms
FROM pipeline_health FINAL;

CREATE VIEW IF NOT EXISTS v_face_activity_minutely AS
SELECT
    classroom_id,
    minute,
    session_id,
    person_id,
    any(school_id) AS school_id,
    any(course) AS course,
    any(role) AS role,
    sum(faces) AS faces,
    sum(det_score_sum) / faces AS det_score,
    sum(ear_sum) / faces AS ear,
    sum(mar_sum) / faces AS mar,
    sum(abs_yaw_sum) / faces AS abs_yaw,
    sum(abs_pitch_sum) / faces AS abs_pitch,
    sum(angry) AS angry_faces,
    sum(disgust) AS disgust_faces,
    sum(fear) AS fear_faces,
    sum(happy) AS happy_faces,
    sum(sad) AS sad_faces,
    sum(surprise) AS surprise_faces,
    sum(neutral) AS neutral_faces
FROM face_activity_1m
GROUP BY classroom_id, minute, session_id, person_id;

CREATE VIEW IF NOT EXISTS v_face_activity_hourly AS
SELECT
    classroom_id,
    hour,
    session_id,
    person_id,
    any(school_id) AS school_id,
    any(course) AS course,
    any(role) AS role,
    sum(faces) AS faces,
    sum(det_score_sum) / faces AS det_score,
    sum(ear_sum) / faces AS ear,
    sum(mar_sum) / faces AS mar,
    sum(abs_yaw_sum) / faces AS abs_yaw,
    sum(abs_pitch_sum) / faces AS abs_pitch,
    sum(angry) AS angry_faces,
    sum(disgust) AS disgust_faces,
    sum(fear) AS fear_faces,
    sum(happy) AS happy_faces,
    sum(sad) AS sad_faces,
    sum(surprise) AS surprise_faces,
    sum(neutral) AS neutral_faces
FROM face_activity_1h
GROUP BY classroom_id, hour, session_id, person_id;

CREATE VIEW IF NOT EXISTS v_concentration_hourly AS
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
    sum(perclos_sum) / windows AS perclos,
    sum(blinks) AS blinks,
    sum(yawns) AS yawns,
    sum(look_around_episodes) AS look_around_episodes,
    sum(low_windows) AS low_windows,
    sum(nominal_windows) AS nominal_windows,
    sum(high_windows) AS high_windows
FROM student_concentration_1h
GROUP BY classroom_id, hour, session_id, person_id;

CREATE VIEW IF NOT EXISTS v_concentration_daily AS
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
    sum(perclos_sum) / windows AS perclos,
    sum(low_windows) AS low_windows,
    sum(nominal_windows) AS nominal_windows,
    sum(high_windows) AS high_windows
FROM student_concentration_1d
GROUP BY classroom_id, day, course, person_id;

CREATE VIEW IF NOT EXISTS v_class_concentration_hourly AS
SELECT
    classroom_id,
    hour,
    session_id,
    any(school_id) AS school_id,
    any(course) AS course,
    sum(windows) AS windows,
    sum(concentration_mean_sum) AS concentration_total,
    sum(concentration_mean_sum) / windows AS concentration,
    sum(students_present_sum) / windows AS students_present,
    sum(share_high_sum) / windows AS share_high,
    sum(share_nominal_sum) / windows AS share_nominal,
    sum(share_low_sum) / windows AS share_low
FROM class_concentration_1h
GROUP BY classroom_id, hour, session_id;
