/**
 * The API docs page in Chinese: the document's own texts (server/openapi/document.ts, in English)
 * by operationId and tag. Field descriptions stay in English (they come from the zod schemas the
 * server validates with). api-docs.test.ts fails when a route has no entry here.
 */
export const ZH_INFO =
  "中转的每个上游账号与 API Key 的用量。每个 JSON 响应都是 `{ success, data, … }`；错误为 `{ success: false, error: { code, message, issues? } }`。费用以美元计，四舍五入到 6 位小数；日与月按 USAGE_TIMEZONE 计算。";

export const ZH_TAGS: Record<string, string> = {
  System: "系统",
  Usage: "用量上报",
  Accounts: "账号",
  "Usage statistics": "用量统计",
  "API keys": "API Key",
  Auth: "登录",
  "API tokens": "API 令牌",
  Alerts: "告警",
};

export const ZH_OPERATIONS: Record<string, { summary: string; description?: string }> = {
  getHealth: { summary: "PostgreSQL 与 Redis 的健康状态" },
  postUsage: {
    summary: "上报用量事件（按 requestId 幂等）",
    description: "每次最多 1,000 个事件。有问题的事件按序号逐个拒绝，其余照常记录；所有接受的事件都已持久化后才返回 202。",
  },
  getAccounts: { summary: "账号列表" },
  putAccountsId: { summary: "创建或更新账号" },
  deleteAccountsId: { summary: "删除账号（软删除）" },
  getAccountsUsageStats: {
    summary: "所有账号的今日、本月与总用量",
    description: "在 SQL 中排序与分页；`summary` 汇总所有符合筛选条件的账号，而不只是当前页。PostgreSQL 不可用时由 Redis 计数器回答（`source: redis`）。",
  },
  getAccountsIdUsageStats: {
    summary: "单个账号在某个范围内的用量：按模型，附图表序列",
    description: "PostgreSQL 不可用时只回答今日、本月与总用量（其他范围返回 503），此时 `series` 为 null。",
  },
  getAccountsIdUsageBreakdown: {
    summary: "单个账号在某个范围内按 API Key 的用量",
    description: "顺序稳定（相同时按 Key ID），用 nextOffset 翻页既不重复也不遗漏。",
  },
  getAccountsIdUsageTrend: {
    summary: "单个账号的用量趋势：今日按小时，近 30 / 90 天按天，近 12 个月按月",
    description: "按 USAGE_TIMEZONE 补零的点，与汇总的范围无关。Redis 实时计数器不保存历史：PostgreSQL 不可用时返回 503。",
  },
  getApiKeys: { summary: "API Key 列表" },
  getApiKeysUsageStats: {
    summary: "所有 API Key 跨账号的用量：搜索、按任一指标排序、游标翻页，可导出 CSV",
    description: "一个 Key 的数字是它在范围内用过的所有账号之和；`cursor` 为上一页的 nextCursor。需要 PostgreSQL（Redis 回退时返回 503）。",
  },
  putApiKeysId: { summary: "创建或更新 API Key（只存哈希，从不存 Key 本身）" },
  deleteApiKeysId: { summary: "删除 API Key（软删除）" },
  postAuthLogin: { summary: "登录并设置会话 Cookie（浏览器未启用 JavaScript 时的表单提交返回 303）" },
  postAuthLogout: { summary: "退出登录：总是清除会话 Cookie，会话已过期也一样" },
  getAuthMe: { summary: "当前调用者及其权限" },
  postAuthPassword: { summary: "修改管理员密码（所有会话都会退出登录）" },
  getTokens: { summary: "有效的 API 令牌列表" },
  postTokens: { summary: "创建 API 令牌（只显示一次）" },
  deleteTokens: { summary: "吊销所有 API 令牌（修改密码不会吊销令牌，只会结束会话）" },
  deleteTokensId: { summary: "吊销一个 API 令牌" },
  getAlertsOverview: {
    summary: "告警概览：正在触发与待定的告警数、投递失败数，以及每个账号的触发中告警与预算",
    description: "控制台账号列表与详情抽屉显示的内容：有预算或有触发中告警的账号才会列出。",
  },
  getAlertsHistory: {
    summary: "告警历史：每条告警的每次状态变化，最新的在前，附带通知的投递结果",
    description: "游标翻页：把上一页的 `nextCursor` 作为 `cursor` 传入（最后一页为 null）；有新事件写入时翻页也不会重复。",
  },
  getAlertsRules: { summary: "告警规则列表，附带当前待定或触发中的对象" },
  postAlertsRules: {
    summary: "创建告警规则",
    description:
      "对象、指标与时间窗口加一个条件：超过某个数额；或突增（当前窗口超过前几天同一窗口中位数的 k 倍，且不低于最小值）；" +
      "或预算条件（预算的百分比，对象、指标与窗口都取自预算）。",
  },
  getAlertsRulesId: { summary: "单条告警规则，附带当前待定或触发中的对象" },
  putAlertsRulesId: {
    summary: "替换告警规则（整条规则，与创建时相同的字段）",
    description: "规则所度量的内容改变（或规则被停用）时，其待定与触发中的告警重新开始，不发送恢复通知。",
  },
  deleteAlertsRulesId: { summary: "删除告警规则（历史记录保留，显示规则原名）" },
  postAlertsRulesIdEnable: { summary: "启用告警规则（无请求体；已启用的规则不受影响）" },
  postAlertsRulesIdDisable: { summary: "停用告警规则：不再评估，其待定与触发中的告警被清除" },
  getAlertsBudgets: { summary: "预算列表，附带本日或本月已用量及其告警规则" },
  postAlertsBudgets: { summary: "创建预算，并为每个告警百分比创建一条规则（默认 80% 与 100%）" },
  putAlertsBudgetsId: { summary: "替换预算的名称、对象、指标、周期与金额（规则保留，其告警重新开始）" },
  deleteAlertsBudgetsId: { summary: "删除预算及其告警规则" },
  getAlertsSilences: { summary: "静默列表：未结束的在前，然后是已结束的（最多 200 条）" },
  postAlertsSilences: {
    summary: "静默一条或全部告警规则，针对某个对象或全部对象，直到某个时间（最长为从现在起 366 天）",
    description: "被静默的告警照常改变状态并记入历史（标记为已静默），但静默期间不发送任何通知。",
  },
  deleteAlertsSilencesId: { summary: "立即结束静默（仍保留在列表中，显示为已结束）" },
  getAlertsChannels: { summary: "通知渠道列表（从不显示密钥）" },
  postAlertsChannels: {
    summary: "创建通知渠道：通用 Webhook、飞书、钉钉、企业微信、Slack 或 Telegram",
    description:
      "URL（含其中的 token）、签名密钥、机器人 token 加密保存，之后不再显示。不带 `secret` 的 Webhook 会生成一个，仅在本次响应的 `generatedSecret` 中返回。" +
      "发送时拒绝回环、内网和链路本地地址，除非 ALERT_ALLOW_PRIVATE_TARGETS 允许。",
  },
  getAlertsChannelsId: { summary: "单个通知渠道（从不显示密钥）" },
  putAlertsChannelsId: { summary: "修改通知渠道：未传的字段（包括密钥）保持不变；渠道类型（kind）不能改变" },
  deleteAlertsChannelsId: { summary: "删除通知渠道；原先发往它的规则不再发往它" },
  postAlertsChannelsIdTest: {
    summary: "立即通过该渠道发送一条测试消息（只尝试一次），返回发送结果",
    description: "这次发送与其他投递一样被记录。发送失败不是错误，而是返回 ok: false 并说明原因。",
  },
  getAlertsDeliveries: { summary: "通知的投递记录，最新的在前，附带每次尝试（状态、耗时、错误）" },
  getOpenapiJson: { summary: "本文档" },
};

/** The error responses, by HTTP status (the document says them once per code). */
export const ZH_ERRORS: Record<string, string> = {
  "400": "参数或字段无效；`error.issues` 指出是哪一个",
  "401": "没有有效的会话 Cookie 或 Bearer 令牌",
  "403": "调用者缺少所需权限",
  "404": "没有这个 ID",
  "409": "冲突",
  "410": "所需的原始用量记录已超出 USAGE_RAW_RETENTION_MONTHS 的保留期；消息中写明保留的起始日期",
  "413": "请求体过大",
  "415": "请求体不是 application/json",
  "429": "尝试次数过多，或同时进行的 CSV 导出过多；见 Retry-After",
  "503": "存储暂时无法回答（或在降级模式下无法精确回答）；见 Retry-After",
  "500": "意外错误；消息中带有请求 ID",
};

/**
 * The query and path parameters in words: by `operationId:name` where a name means different
 * things on different routes (id), else by name. Where the schema has no description of its own
 * the English page uses EN_PARAMS; the Chinese page always uses ZH_PARAMS.
 */
export const ZH_PARAMS: Record<string, string> = {
  search: "按名称或 ID 的子串搜索（不区分大小写）",
  platform: "只看这个平台（claude、gemini、openai …）",
  status: "只看这个状态（active、paused、error、disabled …）",
  includeDeleted: "true：包含已删除（软删除）的记录",
  sort: "排序字段",
  order: "asc 升序 / desc 降序（默认随排序字段而定）",
  page: "页码，从 1 开始",
  pageSize: "每页条数",
  limit: "每页条数",
  offset: "跳过的条数（上一页返回的 nextOffset）",
  source: "只看某个中转来源（crs、sub2api、newapi …）喂入的账号；none：只经 REST API 录入的账号",
  tz: "用另一个 IANA 时区回答；仅当它与 USAGE_TIMEZONE 的 UTC 偏移相同时接受",
  format: "csv：导出所有行（不分页），以带 UTF-8 BOM 的 text/csv 流式返回",
  headers: "配合 format=csv：表头用这种语言的名称（en、zh-CN），而不是稳定的英文列名",
  range: "daily（某一天）、monthly（某个月）、total（全部时间）或 custom（start 至 end）",
  date: "range=daily：哪一天（本地日期），默认今天",
  month: "range=monthly：哪个月，默认本月",
  start: "range=custom：第一天（含）",
  end: "range=custom：最后一天（含）",
  accountId: "只看这个账号的 Key（中转侧的账号 ID）",
  cursor: "上一页返回的游标（nextCursor），接着往下读",
  "putAccountsId:id": "账号 ID（中转侧的 ID）",
  "deleteAccountsId:id": "账号 ID",
  "getAccountsIdUsageStats:id": "账号 ID",
  "getAccountsIdUsageBreakdown:id": "账号 ID",
  "getAccountsIdUsageTrend:id": "账号 ID",
  span: "today（今日，按小时）、30d（近 30 天，按天，默认）、90d（近 90 天）或 12m（近 12 个月，按月）",
  "putApiKeysId:id": "API Key 的 ID（中转侧的 ID，不是 Key 本身）",
  "deleteApiKeysId:id": "API Key 的 ID",
  "deleteTokensId:id": "API 令牌的 ID",
  "getAlertsOverview:accountIds": "只看这些账号，用英文逗号分隔（最多 500 个）；不传则列出所有有预算或触发中告警的账号",
  "getAlertsHistory:ruleId": "只看这条告警规则（规则 ID）",
  "getAlertsHistory:subjectKey": "只看这个对象（账号或 API Key 的 ID）",
  "getAlertsHistory:kind": "只看这种状态变化：pending（待定）、firing（触发）、repeat（重复通知）、resolved（恢复）、inactive（待定期间条件不再满足，未触发就结束）",
  "getAlertsRulesId:id": "告警规则 ID",
  "putAlertsRulesId:id": "告警规则 ID",
  "deleteAlertsRulesId:id": "告警规则 ID",
  "postAlertsRulesIdEnable:id": "告警规则 ID",
  "postAlertsRulesIdDisable:id": "告警规则 ID",
  "putAlertsBudgetsId:id": "预算 ID",
  "deleteAlertsBudgetsId:id": "预算 ID",
  "deleteAlertsSilencesId:id": "静默 ID",
  "getAlertsChannelsId:id": "通知渠道 ID",
  "putAlertsChannelsId:id": "通知渠道 ID",
  "deleteAlertsChannelsId:id": "通知渠道 ID",
  "postAlertsChannelsIdTest:id": "通知渠道 ID",
  "getAlertsDeliveries:notificationId": "只看这条通知的投递（历史中的 notificationId）",
  "getAlertsDeliveries:channelId": "只看这个渠道的投递",
  "getAlertsDeliveries:status": "只看这种状态：pending（等待发送）、sending（发送中）、sent（已送达）、failed（多次重试后放弃）",
  "getAlertsDeliveries:before": "游标：上一页的 nextCursor（只返回 ID 更小的投递）",
  "getAlertsDeliveries:limit": "每页条数（默认 50，最多 100）",
};

export const EN_PARAMS: Record<string, string> = {
  search: "Case-insensitive substring of the name or id",
  platform: "Only this platform (claude, gemini, openai …)",
  status: "Only this status (active, paused, error, disabled …)",
  includeDeleted: "true: include soft-deleted records",
  order: "asc or desc (the default depends on the sort)",
  page: "Page number, from 1",
  pageSize: "Page size",
  "putAccountsId:id": "Account id, as the relay knows it",
  "deleteAccountsId:id": "Account id",
  "getAccountsIdUsageStats:id": "Account id",
  "getAccountsIdUsageBreakdown:id": "Account id",
  "getAccountsIdUsageTrend:id": "Account id",
  "putApiKeysId:id": "API key id, as the relay knows it (not the key itself)",
  "deleteApiKeysId:id": "API key id",
  "getAlertsHistory:subjectKey": "Only this subject (an account's or API key's id)",
  "getAlertsHistory:kind": "Only this transition: pending, firing, repeat (notified again), resolved, inactive (pending that stopped holding)",
  "getAlertsHistory:limit": "Page size (default 50, at most 200)",
  "getAlertsDeliveries:notificationId": "Only the deliveries of this notification (notificationId in the history)",
  "getAlertsDeliveries:channelId": "Only this channel's deliveries",
  "getAlertsDeliveries:status": "Only this status: pending, sending, sent, failed (gave up after its attempts)",
  "getAlertsDeliveries:before": "Cursor: the previous page's nextCursor (deliveries with a smaller id)",
  "getAlertsDeliveries:limit": "Page size (default 50, at most 100)",
};

export function paramText(texts: Record<string, string>, operationId: string, name: string): string | undefined {
  return texts[`${operationId}:${name}`] ?? texts[name];
}
