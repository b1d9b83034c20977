-- Lets the nightly `cleanup` find the rows older than its cutoff without scanning the table.
CREATE INDEX IF NOT EXISTS example_created_at_idx ON example (created_at);
