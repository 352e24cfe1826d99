-- CQD audio classification of each media stream (src/model/quality.rs), set
-- when a report is accepted. Streams stored before this migration keep NULL:
-- the statistics count them as unclassified audio, never as good.
-- poor_reasons: reason names joined by ',' ('' when none), the same text on
-- both backends so the statistics count a reason with one LIKE.
ALTER TABLE media_streams
    ADD COLUMN quality_class      text CHECK (quality_class IN ('good', 'poor', 'unclassified')),
    ADD COLUMN poor_reasons       text NOT NULL DEFAULT '',
    ADD COLUMN quality_classifier text;
