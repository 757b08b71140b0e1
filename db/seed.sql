-- Demo data: 7 accounts on 6 platforms, 24 API keys, 35 days of usage on 7 models, dated
-- relative to now in the usage time zone (set by the runner as usage.timezone) so that today
-- and this month are never empty. Idempotent: request ids are derived from the local date, key
-- and sequence, so running it twice on one day inserts nothing the second time.

INSERT INTO accounts (id, name, platform, type, status, priority, metadata) VALUES
  ('acc-claude-main',    'Claude 主账号',        'claude',         'shared',    'active',  10, '{"seed": true}'),
  ('acc-claude-team',    'Claude Team B',        'claude',         'dedicated', 'active',  20, '{"seed": true}'),
  ('acc-console-1',      'Claude Console 01',    'claude-console', 'shared',    'active',  30, '{"seed": true}'),
  ('acc-gemini-1',       'Gemini Pro 01',        'gemini',         'shared',    'active',  40, '{"seed": true}'),
  ('acc-openai-1',       'OpenAI Org 1',         'openai',         'group',     'active',  50, '{"seed": true}'),
  ('acc-bedrock-1',      'Bedrock us-east-1',    'bedrock',        'dedicated', 'paused',  60, '{"seed": true}'),
  ('acc-azure-1',        'Azure OpenAI East',    'azure-openai',   'shared',    'error',   70, '{"seed": true}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO api_keys (id, name, account_id, status, hashed_key, daily_cost_limit, total_cost_limit, metadata)
SELECT k.id, k.name, k.account_id, 'active', encode(sha256(convert_to('seed-secret-' || k.id, 'UTF8')), 'hex'),
       50, 5000, '{"seed": true}'
  FROM (VALUES
    ('key-alpha',   'Alpha 生产',     'acc-claude-main'),
    ('key-bravo',   'Bravo 测试',     'acc-claude-main'),
    ('key-charlie', 'Charlie CI',     'acc-claude-main'),
    ('key-delta',   'Delta 移动端',   'acc-claude-main'),
    ('key-echo',    'Echo 数据组',    'acc-claude-main'),
    ('key-foxtrot', 'Foxtrot',        'acc-claude-team'),
    ('key-golf',    'Golf',           'acc-claude-team'),
    ('key-hotel',   'Hotel 客服',     'acc-claude-team'),
    ('key-india',   'India',          'acc-console-1'),
    ('key-juliet',  'Juliet',         'acc-console-1'),
    ('key-kilo',    'Kilo 搜索',      'acc-console-1'),
    ('key-lima',    'Lima',           'acc-gemini-1'),
    ('key-mike',    'Mike 翻译',      'acc-gemini-1'),
    ('key-november','November',       'acc-gemini-1'),
    ('key-oscar',   'Oscar',          'acc-openai-1'),
    ('key-papa',    'Papa 内部工具',  'acc-openai-1'),
    ('key-quebec',  'Quebec',         'acc-openai-1'),
    ('key-romeo',   'Romeo',          'acc-openai-1'),
    ('key-sierra',  'Sierra',         'acc-bedrock-1'),
    ('key-tango',   'Tango 报表',     'acc-bedrock-1'),
    ('key-uniform', 'Uniform',        'acc-azure-1'),
    ('key-victor',  'Victor',         'acc-azure-1'),
    ('key-whiskey', 'Whiskey 实验',   'acc-claude-main'),
    ('key-xray',    'X-ray',          'acc-claude-team')
  ) AS k(id, name, account_id)
ON CONFLICT (id) DO NOTHING;

SELECT ensure_usage_partitions((now() - interval '40 days')::date, (now() + interval '1 month')::date);

SELECT count(*) FROM insert_usage_batch((
  WITH params AS (
    SELECT current_setting('usage.timezone') AS tz,
           (now() AT TIME ZONE current_setting('usage.timezone'))::date AS today,
           now() AS now_ts
  ), keys AS (
    SELECT k.id AS api_key_id, k.account_id, a.platform, row_number() OVER (ORDER BY k.id) AS n
      FROM api_keys k JOIN accounts a ON a.id = k.account_id
     WHERE k.metadata ->> 'seed' = 'true'
  ), days AS (
    SELECT p.today - d AS local_date, d FROM params p, generate_series(0, 34) AS d
  ), events AS (
    SELECT k.*, days.local_date, days.d, e AS seq,
           abs(hashtext(k.api_key_id || ':' || days.local_date::text || ':' || e)) AS h
      FROM keys k CROSS JOIN days
      CROSS JOIN LATERAL generate_series(1, 1 + (abs(hashtext(k.api_key_id || days.local_date::text)) % 5)) AS e
  ), shaped AS (
    SELECT ev.*,
           CASE ev.platform
             WHEN 'claude' THEN (ARRAY['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'])[1 + ev.h % 3]
             WHEN 'claude-console' THEN (ARRAY['claude-sonnet-4-5', 'claude-haiku-4-5'])[1 + ev.h % 2]
             WHEN 'bedrock' THEN 'claude-sonnet-4-5'
             WHEN 'gemini' THEN (ARRAY['gemini-2.5-pro', 'gemini-2.5-flash'])[1 + ev.h % 2]
             ELSE (ARRAY['gpt-5', 'gpt-5-mini'])[1 + ev.h % 2]
           END AS model,
           500 + (ev.h % 9000) * (1 + ev.n % 4) AS input_tokens,
           100 + (ev.h / 7) % 2500 AS output_tokens,
           CASE WHEN ev.h % 3 = 0 THEN (ev.h / 11) % 4000 ELSE 0 END AS cache_create_tokens,
           CASE WHEN ev.h % 2 = 0 THEN (ev.h / 13) % 20000 ELSE 0 END AS cache_read_tokens,
           -- Spread over the local day; today only up to now, so nothing lies in the future.
           CASE WHEN ev.d = 0
             THEN (p.today::timestamp AT TIME ZONE p.tz)
                  + ((p.now_ts - (p.today::timestamp AT TIME ZONE p.tz)) * ((ev.h % 1000) / 1000.0))
             ELSE (ev.local_date::timestamp AT TIME ZONE p.tz) + make_interval(secs => ev.h % 86400)
           END AS occurred_at
      FROM events ev, params p
  )
  SELECT jsonb_agg(jsonb_build_object(
           'request_id', 'seed:' || s.api_key_id || ':' || s.local_date || ':' || s.seq,
           'occurred_at', s.occurred_at,
           'account_id', s.account_id,
           'api_key_id', s.api_key_id,
           'model', s.model,
           'requests', 1,
           'input_tokens', s.input_tokens,
           'output_tokens', s.output_tokens,
           'cache_create_tokens', s.cache_create_tokens,
           'cache_read_tokens', s.cache_read_tokens,
           'ephemeral_5m_tokens', s.cache_create_tokens,
           'total_cost', round((s.input_tokens * 3 + s.output_tokens * 15 + s.cache_create_tokens * 3.75
                                + s.cache_read_tokens * 0.3) / 1000000.0, 8),
           -- What the key holder is charged: the keys' rates differ (1.5×, 1.2×, 1×, 0.8×), so the
           -- console's 计费 and 毛利 show something.
           'rated_cost', round((s.input_tokens * 3 + s.output_tokens * 15 + s.cache_create_tokens * 3.75
                                + s.cache_read_tokens * 0.3) / 1000000.0
                               * (ARRAY[1.5, 1.2, 1.0, 0.8])[1 + s.n % 4], 8),
           'metadata', jsonb_build_object('seed', true)))
    FROM shaped s
), current_setting('usage.timezone'));
