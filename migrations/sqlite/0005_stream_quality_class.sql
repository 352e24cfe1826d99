-- Same as migrations/postgres/0005: the CQD audio class of each stream.
ALTER TABLE media_streams ADD COLUMN quality_class TEXT
    CHECK (quality_class IN ('good', 'poor', 'unclassified'));
ALTER TABLE media_streams ADD COLUMN poor_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE media_streams ADD COLUMN quality_classifier TEXT;
