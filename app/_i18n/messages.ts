/**
 * Every string of the console in zh-CN (the default) and English, as ICU messages for next-intl.
 * `en` is typed against the zh-CN shape, so a missing translation fails type checking.
 *
 * The glossary (one word per idea, the same in every page):
 *   今日 Today · 本月 This month · 总用量 Total usage (all time) · 自定义 Custom
 *   费用 Cost (the real cost; where both are shown, 实际成本 / 计费成本 below) · 请求数 Requests · tokens · 最近使用 Last used · 账号用量 Account usage
 *   Tokens 占比 Token share · 费用占比 Cost share (never a bare 占比)
 *   实际成本 Real cost (what the upstream account cost) · 计费成本 Rated cost (what the key holder is charged)
 *   来源 Source (the relay an account or key came from: CRS, sub2api, new-api …; none = the REST API)
 */
import { MEASURES } from "@/db/measures";

export const LOCALES = ["zh-CN", "en"] as const;

/** The names of the sortable measures, from their declaration (db/measures.ts). */
function measureLabels(locale: "zh-CN" | "en"): Record<AccountSortFigure, string> {
  return Object.fromEntries(MEASURES.filter((m) => "accountSort" in m).map((m) => [m.name, m.label[locale]])) as Record<AccountSortFigure, string>;
}
type AccountSortFigure = Extract<(typeof MEASURES)[number], { accountSort: true }>["name"];
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "zh-CN";
export const LOCALE_COOKIE = "lang";

export function toLocale(value: string | undefined | null): Locale {
  return LOCALES.find((l) => l.toLowerCase() === value?.toLowerCase()) ?? DEFAULT_LOCALE;
}

const zhCN = {
  brand: { name: "用量后台", tagline: "LLM 中转的账号与 API Key 用量" },
  lang: { label: "语言", "zh-CN": "中文", en: "English" },
  prefs: {
    theme: "主题",
    themes: { system: "跟随系统", light: "浅色", dark: "深色" },
    currency: "显示货币",
    usd: "$ 美元",
    cny: "¥ 人民币",
    rateHint: "显示货币：按 1 美元 = {rate} 元换算；数据与导出仍为美元",
  },
  nav: {
    label: "主导航",
    accounts: "账号用量",
    tokens: "API 令牌",
    password: "修改密码",
    apiDocs: "API 文档",
    signedInAs: "已登录：{name}",
    signOut: "退出登录",
    menu: "菜单",
    skip: "跳到主要内容",
  },
  app: { title: "账号用量", subtitle: "每个上游账号及其 API Key 的用量与费用" },

  summary: { accounts: "账号", activeToday: "今日活跃", today: "今日", month: "本月", total: "总用量", activeShare: "占 {percent}" },

  filters: {
    search: "搜索",
    searchPlaceholder: "按名称或 ID 搜索",
    slashHint: "按 / 键聚焦搜索框",
    platform: "平台",
    status: "状态",
    source: "来源",
    sourceNone: "无来源（REST API）",
    all: "全部",
    sort: "排序",
    order: "顺序",
    asc: "升序",
    desc: "降序",
    pageSize: "每页",
    reset: "清除筛选",
    exportCsv: "导出 CSV",
    label: "筛选",
    toggle: "筛选与排序",
    active: "已筛选",
  },

  col: {
    name: "名称",
    platform: "平台",
    source: "来源",
    status: "状态",
    priority: "优先级",
    today: "今日",
    month: "本月",
    total: "总用量",
    lastUsed: "最近使用",
    details: "详情",
    sortBy: "按{column}排序",
  },

  sort: {
    name: "名称",
    platform: "平台",
    status: "状态",
    priority: "优先级",
    lastUsedAt: "最近使用",
    window: { daily: "今日", monthly: "本月", total: "总用量" },
    figure: measureLabels("zh-CN"),
  },

  status: { active: "正常", paused: "暂停", error: "异常", disabled: "停用", unknown: "未知" },
  source: { none: "—", noneHint: "无中转来源：通过 REST API 录入" },
  accountType: { shared: "共享", dedicated: "专属", group: "分组" },

  usage: {
    tokens: "{value} tokens",
    requests: "{value} 次请求",
    tokensExact: "{value} tokens（输入 {input} · 输出 {output} · 缓存创建 {cacheCreate} · 缓存读取 {cacheRead}）",
    costExact: "{value}（精确值）",
    none: "—",
    never: "从未使用",
  },

  list: {
    empty: "没有符合条件的账号",
    emptyHint: "试试清除筛选或换个关键词。",
    error: "账号列表加载失败",
    loading: "正在加载…",
    updating: "正在更新…",
    detailsOf: "查看 {name} 的详情",
  },

  pager: {
    summary: "第 {from}–{to} 条，共 {total} 条",
    page: "第 {page} / {pages} 页",
    prev: "上一页",
    next: "下一页",
    label: "分页",
  },

  common: {
    retry: "重试",
    totals: "合计",
    close: "关闭",
    loadMore: "加载更多",
    loading: "加载中…",
    errorTitle: "出错了",
    unavailable: "该数据暂不可用：PostgreSQL 未连接，只能查询今日、本月与总用量的实时计数。",
    unauthorized: "登录已过期，请重新登录。",
  },

  fallback: {
    title: "降级模式：数据来自 Redis 实时计数",
    body: "PostgreSQL 当前不可用。显示的数字只是实时计数（今日、本月、总用量）；自定义范围、过去的日期、趋势图和按月历史暂不可用。",
  },

  drawer: {
    title: "账号详情",
    facts: "账号信息",
    id: "ID",
    type: "类型",
    range: "统计范围",
    rangeDaily: "今日",
    rangeMonthly: "本月",
    rangeTotal: "总用量",
    rangeCustom: "自定义",
    from: "开始日期",
    to: "结束日期",
    dateFormat: "YYYY-MM-DD",
    apply: "应用",
    invalidRange: "请按 YYYY-MM-DD 填写日期，且开始日期不能晚于结束日期",
    rangeLabel: "{start} 至 {end}（{timezone}）",
    rangeUsage: "所选范围用量",
    notFoundTitle: "找不到该账号",
    notFoundBody: "没有 ID 为「{id}」的账号，它可能已被删除，或链接有误。",
    backToList: "返回账号列表",
    emptyRange: "该范围内没有用量",
    emptyRangeHint: "换一个统计范围试试，例如「总用量」。",
  },

  breakdown: {
    title: "API Key 明细",
    apiKey: "API Key",
    source: "来源",
    requests: "请求数",
    tokens: "Tokens",
    input: "输入",
    output: "输出",
    cacheCreate: "缓存创建",
    cacheRead: "缓存读取",
    cost: "费用",
    realCost: "实际成本",
    realCostHint: "上游账号实际花费的金额",
    ratedCost: "计费成本",
    ratedCostHint: "按倍率向 API Key 持有者计费的金额（实际成本 × 倍率）",
    tokenShare: "Tokens 占比",
    costShare: "费用占比",
    tokenKindsOf: "{tokens} tokens：展开输入、输出与缓存",
    lastModel: "最后模型",
    lastUsed: "最近使用",
    shown: "已显示 {shown} / {total} 个 API Key",
    exportCsv: "导出明细 CSV",
    allLoaded: "已全部加载",
  },

  models: {
    title: "按模型",
    model: "模型",
    empty: "该范围内没有模型用量",
    unavailable: "按模型的总用量暂不可用（PostgreSQL 未连接）",
  },

  trend: {
    titleDay: "每日趋势",
    titleMonth: "每月趋势",
    cost: "费用",
    tokens: "Tokens",
    empty: "该范围内没有用量",
    unavailable: "趋势图暂不可用（PostgreSQL 未连接）",
    captionDay: "{start} 至 {end} 每日费用（柱）与 tokens（线）",
    captionMonth: "{start} 至 {end} 每月费用（柱）与 tokens（线）",
    captionUntilToday: "截至今天（{today}），之后的日期不画",
    point: "{date}：{cost}，{tokens} tokens，{requests} 次请求",
  },

  login: {
    title: "登录",
    subtitle: "账号用量管理后台",
    username: "用户名",
    password: "密码",
    submit: "登录",
    submitting: "正在登录…",
    invalid: "用户名或密码错误",
    tooMany: "尝试次数过多，请在 {seconds} 秒后重试",
    failed: "登录失败，请稍后重试",
  },

  tokens: {
    title: "API 令牌",
    intro: "脚本和中转服务使用 API 令牌调用接口（{header}）。令牌只在创建时显示一次。",
    headerExample: "Authorization: Bearer <令牌>",
    create: "创建令牌",
    name: "名称",
    scope: "权限范围",
    scopes: {
      "usage:write": "usage:write（写入用量、维护账号和 Key）",
      "usage:read": "usage:read（只读查询、导出 CSV）",
      metrics: "metrics（仅 Prometheus 抓取 /metrics）",
      admin: "admin（全部权限，含令牌管理）",
    },
    creating: "正在创建…",
    created: "令牌已创建。请立即复制保存，关闭后将无法再次查看：",
    copy: "复制",
    copied: "已复制",
    dismiss: "我已保存",
    prefix: "前缀",
    createdAt: "创建时间",
    lastUsed: "最近使用",
    never: "从未使用",
    actions: "操作",
    revoke: "吊销",
    revokeName: "吊销 {name}",
    revokeConfirm: "确定吊销令牌「{name}」吗？使用它的脚本将立即无法访问。",
    revokeAll: "吊销全部令牌",
    revokeAllConfirm: "确定吊销全部 {count} 个 API 令牌吗？所有使用它们的脚本和中转服务将立即无法访问。",
    empty: "还没有 API 令牌",
    failed: "操作失败：{message}",
  },

  password: {
    title: "修改密码",
    intro: "修改后所有会话（包括当前会话）都会退出，需要用新密码重新登录。API 令牌不受影响：如需一并作废，请在 API 令牌页选择「吊销全部令牌」。",
    current: "当前密码",
    new: "新密码",
    confirm: "确认新密码",
    hint: "至少 {min} 个字符",
    mismatch: "两次输入的新密码不一致",
    submit: "修改密码",
    submitting: "正在修改…",
    failed: "修改失败：{message}",
  },

  apiDocs: {
    title: "API 文档",
    intro: "接口说明由服务端校验所用的同一套 zod schema 生成；各字段的说明为英文原文。",
    version: "版本 {version}",
    machineReadable: "机器可读：",
    contents: "目录",
    parameter: "参数",
    in: "位置",
    type: "类型",
    description: "说明",
    body: "请求体（application/json）",
    responses: "响应",
    responseBody: "响应体",
    schemas: "数据结构",
    public: "公开",
    scope: "权限：{scope}",
    default: "默认 {value}",
    maxChars: "≤ {max} 个字符",
    pattern: "格式见 openapi.json",
    arrayOf: "数组，元素为",
    example: "请求示例",
    curlIntro: "示例用 curl 调用：先在「API 令牌」页创建令牌，再 `export TOKEN=<令牌>`。",
  },
};

type DeepStrings<T> = { [K in keyof T]: T[K] extends string ? string : DeepStrings<T[K]> };
export type Messages = DeepStrings<typeof zhCN>;

const en: Messages = {
  brand: { name: "Usage console", tagline: "Usage of an LLM relay's accounts and API keys" },
  lang: { label: "Language", "zh-CN": "中文", en: "English" },
  prefs: {
    theme: "Theme",
    themes: { system: "System", light: "Light", dark: "Dark" },
    currency: "Display currency",
    usd: "$ USD",
    cny: "¥ CNY",
    rateHint: "Display currency: converted at US$1 = ¥{rate}; data and exports stay in USD",
  },
  nav: {
    label: "Main",
    accounts: "Account usage",
    tokens: "API tokens",
    password: "Change password",
    apiDocs: "API docs",
    signedInAs: "Signed in as {name}",
    signOut: "Sign out",
    menu: "Menu",
    skip: "Skip to content",
  },
  app: { title: "Account usage", subtitle: "What each upstream account and its API keys used and cost" },

  summary: { accounts: "Accounts", activeToday: "Active today", today: "Today", month: "This month", total: "Total usage", activeShare: "{percent} of all" },

  filters: {
    search: "Search",
    searchPlaceholder: "Search by name or id",
    slashHint: "Press / to focus the search box",
    platform: "Platform",
    status: "Status",
    source: "Source",
    sourceNone: "None (REST API)",
    all: "All",
    sort: "Sort by",
    order: "Order",
    asc: "Ascending",
    desc: "Descending",
    pageSize: "Per page",
    reset: "Clear filters",
    exportCsv: "Export CSV",
    label: "Filters",
    toggle: "Filters and sort",
    active: "filtered",
  },

  col: {
    name: "Name",
    platform: "Platform",
    source: "Source",
    status: "Status",
    priority: "Priority",
    today: "Today",
    month: "This month",
    total: "Total usage",
    lastUsed: "Last used",
    details: "Details",
    sortBy: "Sort by {column}",
  },

  sort: {
    name: "Name",
    platform: "Platform",
    status: "Status",
    priority: "Priority",
    lastUsedAt: "Last used",
    window: { daily: "Today", monthly: "This month", total: "Total usage" },
    figure: measureLabels("en"),
  },

  status: { active: "Active", paused: "Paused", error: "Error", disabled: "Disabled", unknown: "Unknown" },
  source: { none: "—", noneHint: "No relay source: entered through the REST API" },
  accountType: { shared: "Shared", dedicated: "Dedicated", group: "Group" },

  usage: {
    tokens: "{value} tokens",
    requests: "{value} requests",
    tokensExact: "{value} tokens (input {input} · output {output} · cache create {cacheCreate} · cache read {cacheRead})",
    costExact: "{value} (exact)",
    none: "—",
    never: "Never used",
  },

  list: {
    empty: "No accounts match",
    emptyHint: "Clear the filters or try another search.",
    error: "The account list could not be loaded",
    loading: "Loading…",
    updating: "Updating…",
    detailsOf: "Details of {name}",
  },

  pager: {
    summary: "{from}–{to} of {total}",
    page: "Page {page} of {pages}",
    prev: "Previous",
    next: "Next",
    label: "Pagination",
  },

  common: {
    retry: "Retry",
    totals: "Total",
    close: "Close",
    loadMore: "Load more",
    loading: "Loading…",
    errorTitle: "Something went wrong",
    unavailable: "Not available right now: PostgreSQL is down, so only the live counters of today, this month and total usage can be read.",
    unauthorized: "Your session has expired. Please sign in again.",
  },

  fallback: {
    title: "Degraded mode: figures come from Redis live counters",
    body: "PostgreSQL is unavailable. The figures shown are live counters only (today, this month, total usage); custom ranges, past days, the trend chart and monthly history are unavailable.",
  },

  drawer: {
    title: "Account details",
    facts: "Account",
    id: "ID",
    type: "Type",
    range: "Range",
    rangeDaily: "Today",
    rangeMonthly: "This month",
    rangeTotal: "Total usage",
    rangeCustom: "Custom",
    from: "From",
    to: "To",
    dateFormat: "YYYY-MM-DD",
    apply: "Apply",
    invalidRange: "Enter dates as YYYY-MM-DD, the start not after the end",
    rangeLabel: "{start} to {end} ({timezone})",
    rangeUsage: "Usage in range",
    notFoundTitle: "Account not found",
    notFoundBody: "There is no account with the id “{id}”. It may have been deleted, or the link is wrong.",
    backToList: "Back to the accounts",
    emptyRange: "No usage in this range",
    emptyRangeHint: "Try another range, such as “Total usage”.",
  },

  breakdown: {
    title: "API key breakdown",
    apiKey: "API key",
    source: "Source",
    requests: "Requests",
    tokens: "Tokens",
    input: "Input",
    output: "Output",
    cacheCreate: "Cache create",
    cacheRead: "Cache read",
    cost: "Cost",
    realCost: "Real cost",
    realCostHint: "What the upstream account actually cost",
    ratedCost: "Rated cost",
    ratedCostHint: "What the key holder is charged (real cost × rates)",
    tokenShare: "Token share",
    costShare: "Cost share",
    tokenKindsOf: "{tokens} tokens: show input, output and cache",
    lastModel: "Last model",
    lastUsed: "Last used",
    shown: "Showing {shown} of {total} API keys",
    exportCsv: "Export breakdown CSV",
    allLoaded: "All loaded",
  },

  models: {
    title: "By model",
    model: "Model",
    empty: "No model usage in the range",
    unavailable: "Total usage by model is unavailable (PostgreSQL is down)",
  },

  trend: {
    titleDay: "Daily trend",
    titleMonth: "Monthly trend",
    cost: "Cost",
    tokens: "Tokens",
    empty: "No usage in the range",
    unavailable: "The trend chart is unavailable (PostgreSQL is down)",
    captionDay: "Daily cost (bars) and tokens (line), {start} to {end}",
    captionMonth: "Monthly cost (bars) and tokens (line), {start} to {end}",
    captionUntilToday: "Up to today ({today}); later days are not drawn",
    point: "{date}: {cost}, {tokens} tokens, {requests} requests",
  },

  login: {
    title: "Sign in",
    subtitle: "Account usage console",
    username: "Username",
    password: "Password",
    submit: "Sign in",
    submitting: "Signing in…",
    invalid: "Invalid username or password",
    tooMany: "Too many attempts; try again in {seconds} seconds",
    failed: "Sign-in failed; please try again later",
  },

  tokens: {
    title: "API tokens",
    intro: "Scripts and the relay call the API with a token ({header}). A token is shown only once, when it is created.",
    headerExample: "Authorization: Bearer <token>",
    create: "Create token",
    name: "Name",
    scope: "Scope",
    scopes: {
      "usage:write": "usage:write (ingest usage, maintain accounts and keys)",
      "usage:read": "usage:read (read-only queries, CSV export)",
      metrics: "metrics (Prometheus scraping /metrics only)",
      admin: "admin (everything, token management included)",
    },
    creating: "Creating…",
    created: "Token created. Copy it now; it cannot be shown again:",
    copy: "Copy",
    copied: "Copied",
    dismiss: "I have saved it",
    prefix: "Prefix",
    createdAt: "Created",
    lastUsed: "Last used",
    never: "Never used",
    actions: "Actions",
    revoke: "Revoke",
    revokeName: "Revoke {name}",
    revokeConfirm: "Revoke the token “{name}”? Scripts using it lose access at once.",
    revokeAll: "Revoke all tokens",
    revokeAllConfirm: "Revoke all {count} API tokens? Every script and relay using them loses access at once.",
    empty: "No API tokens yet",
    failed: "Failed: {message}",
  },

  password: {
    title: "Change password",
    intro: "Every session, this one included, is signed out afterwards; sign in again with the new password. API tokens keep working: to end them too, use “Revoke all tokens” on the API tokens page.",
    current: "Current password",
    new: "New password",
    confirm: "Confirm new password",
    hint: "At least {min} characters",
    mismatch: "The new passwords do not match",
    submit: "Change password",
    submitting: "Changing…",
    failed: "Failed: {message}",
  },

  apiDocs: {
    title: "API docs",
    intro: "Generated from the same zod schemas the server validates with.",
    version: "Version {version}",
    machineReadable: "Machine-readable:",
    contents: "Contents",
    parameter: "Parameter",
    in: "In",
    type: "Type",
    description: "Description",
    body: "Body (application/json)",
    responses: "Responses",
    responseBody: "Body",
    schemas: "Schemas",
    public: "public",
    scope: "scope: {scope}",
    default: "default {value}",
    maxChars: "≤ {max} chars",
    pattern: "pattern in openapi.json",
    arrayOf: "array of",
    example: "Example request",
    curlIntro: "The examples use curl: create a token on the API tokens page, then `export TOKEN=<token>`.",
  },
};

export const MESSAGES: Record<Locale, Messages> = { "zh-CN": zhCN, en };

declare module "next-intl" {
  interface AppConfig {
    Locale: Locale;
    Messages: typeof zhCN;
  }
}
