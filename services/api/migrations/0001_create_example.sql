-- Example table created by the sample API's first migration. Replace with your own schema.
CREATE TABLE IF NOT EXISTS example (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
