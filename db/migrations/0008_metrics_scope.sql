-- Issue 15: API tokens with the `metrics` scope may read GET /metrics (Prometheus) and nothing else.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('usage:read', 'usage:write', 'metrics', 'admin'));
