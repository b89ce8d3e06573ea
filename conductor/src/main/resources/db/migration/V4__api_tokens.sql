-- Bearer tokens issued through the Tokens API. The secret is never stored: token_hash is
-- the hex SHA-256 of it (tokens are 256 random bits, so a fast hash is enough).
CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    project_id  text NOT NULL,
    user_id     text NOT NULL,
    role        text NOT NULL CHECK (role IN ('member', 'admin')),
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_project ON api_tokens (project_id, created_at DESC);
