-- Expression confidence (docs/metrics.md, "Expressions"): the top probability of the
-- expression vector, so analysts can tell a clear expression from a near tie.

-- Probability (0-1) of expression_label; NULL wherever the label is NULL: emotion
-- inference off, a face under vision.expression_min_face_px (too few pixels to read an
-- expression), and rows stored before this migration.
ALTER TABLE face_events ADD COLUMN IF NOT EXISTS expression_confidence Nullable(Float32) AFTER expression_label;
