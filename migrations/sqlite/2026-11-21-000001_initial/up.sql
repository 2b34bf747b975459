-- Common Grounds, initial schema (SQLite). Keep in step with ../../postgres/.
-- Ids are UUID v4 text, times are UTC TIMESTAMPs written by the application.

CREATE TABLE users (
    id               TEXT PRIMARY KEY NOT NULL,
    email            TEXT NOT NULL UNIQUE,
    computing_id     TEXT NOT NULL UNIQUE,
    phone_hash       TEXT UNIQUE,
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    phone_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    role             TEXT NOT NULL DEFAULT 'student'
                     CHECK (role IN ('student', 'moderator', 'admin')),
    suspended_until  TIMESTAMP,
    suspension_reason TEXT,
    last_login_at    TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK (email = lower(email) AND email LIKE '%_@_%')
);
CREATE INDEX idx_users_unverified_created ON users (created_at) WHERE email_verified = FALSE;

CREATE TABLE magic_links (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     TEXT NOT NULL UNIQUE,
    code_hash      TEXT NOT NULL,
    code_attempts  INTEGER NOT NULL DEFAULT 0 CHECK (code_attempts >= 0),
    expires_at     TIMESTAMP NOT NULL,
    used           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX idx_magic_links_user_id ON magic_links (user_id);
CREATE INDEX idx_magic_links_expires_at ON magic_links (expires_at);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    user_agent    TEXT,
    expires_at    TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP NOT NULL
);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE classes (
    id                   TEXT PRIMARY KEY NOT NULL,
    subject              TEXT NOT NULL,
    catalog_number       TEXT NOT NULL,
    term                 TEXT NOT NULL CHECK (length(term) = 4),
    title                TEXT,
    description          TEXT,
    sis_class_number     TEXT,
    instructor           TEXT,
    component            TEXT,
    class_section        TEXT,
    class_capacity       INTEGER,
    enrollment_available INTEGER,
    days                 TEXT,
    start_time           TEXT,
    end_time             TEXT,
    location             TEXT,
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    last_synced_at       TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    UNIQUE (term, sis_class_number)
);
CREATE INDEX idx_classes_subject_catalog_term ON classes (subject, catalog_number, term);
CREATE INDEX idx_classes_term ON classes (term);

CREATE TABLE class_meetings (
    id          TEXT PRIMARY KEY NOT NULL,
    class_id    TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    days        TEXT,
    start_time  TEXT,
    end_time    TEXT,
    location    TEXT,
    instructor  TEXT,
    UNIQUE (class_id, position)
);

CREATE TABLE user_classes (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id     TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    enrolled_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, class_id)
);
CREATE INDEX idx_user_classes_class_user ON user_classes (class_id, user_id);

CREATE TABLE friendships (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id_1   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id_2   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'ACCEPTED', 'REJECTED', 'BLOCKED')),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK (user_id_1 <> user_id_2)
);
-- One row per unordered pair: (a, b) and (b, a) collide.
CREATE UNIQUE INDEX idx_friendships_pair ON friendships (min(user_id_1, user_id_2), max(user_id_1, user_id_2));
CREATE INDEX idx_friendships_user_id_1 ON friendships (user_id_1, status);
CREATE INDEX idx_friendships_user_id_2 ON friendships (user_id_2, status);

CREATE TABLE class_messages (
    id                    TEXT PRIMARY KEY NOT NULL,
    class_id              TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    -- Nullable, SET NULL: a deleted account's replied-to messages stay as "[deleted]".
    user_id               TEXT REFERENCES users (id) ON DELETE SET NULL,
    anonymous_identifier  TEXT NOT NULL,
    content               TEXT NOT NULL,
    parent_message_id     TEXT REFERENCES class_messages (id) ON DELETE CASCADE,
    flagged_count         INTEGER NOT NULL DEFAULT 0 CHECK (flagged_count >= 0),
    hidden                BOOLEAN NOT NULL DEFAULT FALSE,
    deleted               BOOLEAN NOT NULL DEFAULT FALSE,
    edited_at             TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX idx_class_messages_class_created ON class_messages (class_id, created_at DESC, id DESC);
CREATE INDEX idx_class_messages_user_id ON class_messages (user_id);
CREATE INDEX idx_class_messages_parent_id ON class_messages (parent_message_id);
CREATE INDEX idx_class_messages_flagged ON class_messages (created_at) WHERE flagged_count > 0;

CREATE TABLE message_flags (
    message_id  TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      TEXT,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX idx_message_flags_user_created ON message_flags (user_id, created_at);

CREATE TABLE contact_imports (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- JSON array of hashes: arrays are not shared by both backends.
    phone_hash_list  TEXT NOT NULL,
    imported_at      TIMESTAMP NOT NULL
);
CREATE INDEX idx_contact_imports_user_id ON contact_imports (user_id);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY NOT NULL,
    -- NULL once the actor's account is deleted: the entry itself is kept.
    actor_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    action       TEXT NOT NULL CHECK (action IN ('hide', 'restore', 'delete', 'reveal', 'suspend',
                 'lift_suspension', 'role_change', 'sync_started')),
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    reason       TEXT,
    details      TEXT,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX idx_audit_log_created ON audit_log (created_at);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_id, created_at);
CREATE INDEX idx_audit_log_action ON audit_log (action, created_at);

CREATE TABLE email_outbox (
    id               TEXT PRIMARY KEY NOT NULL,
    to_address       TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    locked_until     TIMESTAMP,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);
CREATE INDEX idx_email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX idx_email_outbox_sent ON email_outbox (sent_at) WHERE status = 'sent';

CREATE TABLE sis_sync_runs (
    id                    TEXT PRIMARY KEY NOT NULL,
    term                  TEXT NOT NULL,
    subjects              TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    sections_added        INTEGER NOT NULL DEFAULT 0,
    sections_changed      INTEGER NOT NULL DEFAULT 0,
    sections_unchanged    INTEGER NOT NULL DEFAULT 0,
    sections_deactivated  INTEGER NOT NULL DEFAULT 0,
    pages_fetched         INTEGER NOT NULL DEFAULT 0,
    retries               INTEGER NOT NULL DEFAULT 0,
    error                 TEXT,
    started_at            TIMESTAMP NOT NULL,
    finished_at           TIMESTAMP
);
CREATE INDEX idx_sis_sync_runs_term_started ON sis_sync_runs (term, started_at);

-- Sliding-window rate limits, counted in the database so every app process shares them.
CREATE TABLE rate_limit_hits (
    id          TEXT PRIMARY KEY NOT NULL,
    bucket      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX idx_rate_limit_hits_bucket ON rate_limit_hits (bucket, created_at);
