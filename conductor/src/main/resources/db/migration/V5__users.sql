-- Users of the Keystone v3 subset (password authentication): each has one project and one
-- role in it, as Stratus tokens do. password_hash is PBKDF2-HMAC-SHA256 in the form
-- pbkdf2-sha256$ITERATIONS$SALT$HASH (base64); the password is never stored.
CREATE TABLE users (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    domain        text NOT NULL,
    password_hash text NOT NULL,
    project_id    text NOT NULL,
    role          text NOT NULL CHECK (role IN ('member', 'admin')),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    UNIQUE (domain, name)
);
