-- Scoped API tokens. Only a hash of each token is kept: the token is shown once, at creation.
CREATE TABLE api_tokens (
    name        TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
