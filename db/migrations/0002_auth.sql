-- Admin authentication and API tokens. Secrets are never stored: the admin password as an
-- argon2id hash, session ids and API tokens as the SHA-256 of 256 random bits.

CREATE TABLE admin_users (
  username             text PRIMARY KEY,
  password_hash        text NOT NULL,
  -- env: from ADMIN_PASSWORD (follows it when it changes); generated: first start;
  -- set: changed in the console or with `npm run admin:reset-password` (ADMIN_PASSWORD is then ignored).
  password_source      text NOT NULL CHECK (password_source IN ('env', 'generated', 'set')),
  password_changed_at  timestamptz NOT NULL DEFAULT now(),
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- Sessions live in Redis when it is up; this table holds the ones created while it is not.
CREATE TABLE admin_sessions (
  token_hash    text PRIMARY KEY,
  username      text NOT NULL,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  -- The absolute limit; the idle limit is last_seen_at + SESSION_IDLE_TIMEOUT_SECONDS.
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz
);
CREATE INDEX admin_sessions_username_idx ON admin_sessions (username) WHERE revoked_at IS NULL;
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);

CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  scope         text NOT NULL CHECK (scope IN ('usage:read', 'usage:write', 'admin')),
  token_hash    text NOT NULL UNIQUE,
  -- The first characters ("ubk_AbCd"), so that a listed token can be matched to the one in a config.
  token_prefix  text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_tokens_active_idx ON api_tokens (created_at) WHERE revoked_at IS NULL;
