-- A term's first and last day of classes as SIS gives them (the dates most of
-- the term's sections carry: the regular session), written by the catalog at
-- the end of the term's sync. A term without a row falls back to the TERMS
-- setting; one in neither has no dates, and the calendar feed leaves it out.
CREATE TABLE term_dates (
    term        TEXT PRIMARY KEY NOT NULL,
    first_day   DATE NOT NULL,
    last_day    DATE NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK (last_day >= first_day)
);

-- A student's private calendar feed: at most one per student, reached by a
-- random token of which only the SHA-256 (hex) is kept. Replacing the link
-- replaces the hash; turning it off deletes the row.
CREATE TABLE calendar_feeds (
    user_id          TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash       TEXT NOT NULL UNIQUE,
    created_at       TIMESTAMP NOT NULL,
    last_fetched_at  TIMESTAMP
);
