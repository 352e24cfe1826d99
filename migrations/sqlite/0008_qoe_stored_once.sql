-- Same step as migrations/postgres/0008: UCWA's MS-QoE document is stored
-- once, inside raw_payload; the read API decodes it from there exactly as
-- ingest did (src/protocols/ucwa/stored.rs). SQLite's DROP COLUMN (3.35+)
-- rewrites the table; the column has no index or constraint.
ALTER TABLE reports DROP COLUMN media_quality_of_experience;
