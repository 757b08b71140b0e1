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
  getOpenapiJson: { summary: "本文档" },
};

/** The error responses, by HTTP status (the document says them once per code). */
export const ZH_ERRORS: Record<string, string> = {
  "400": "参数或字段无效；`error.issues` 指出是哪一个",
  "401": "没有有效的会话 Cookie 或 Bearer 令牌",
  "403": "调用者缺少所需权限",
  "404": "没有这个 ID",
  "409": "冲突",
  "413": "请求体过大",
  "415": "请求体不是 application/json",
  "429": "尝试次数过多，或同时进行的 CSV 导出过多；见 Retry-After",
  "503": "存储暂时无法回答（或在降级模式下无法精确回答）；见 Retry-After",
  "500": "意外错误；消息中带有请求 ID",
};
