-- Sign-ins per day, for the admin overview. Sessions cannot serve: they end at
-- sign-out and are removed once expired. Only a count per day is kept: which
-- student signed in when is not recorded.
CREATE TABLE sign_in_days (
    day       TEXT PRIMARY KEY NOT NULL,
    sign_ins  INTEGER NOT NULL DEFAULT 0 CHECK (sign_ins >= 0)
);
