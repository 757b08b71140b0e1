import type { Locale } from "@/app/_i18n/messages";

/** Strings of the console frame (navigation, sign-out) and the settings pages. */
const zhCN = {
  "nav.label": "主导航",
  "nav.home": "用量明细",
  "nav.accounts": "账号",
  "nav.tokens": "API 令牌",
  "nav.password": "修改密码",
  "nav.signedInAs": "已登录：{name}",
  "nav.signOut": "退出登录",

  "tokens.title": "API 令牌",
  "tokens.intro": "脚本和中转服务使用 API 令牌调用接口（Authorization: Bearer <令牌>）。令牌只在创建时显示一次。",
  "tokens.create": "创建令牌",
  "tokens.name": "名称",
  "tokens.scope": "权限范围",
  "tokens.scope.usage:write": "usage:write（写入用量、维护账号和 Key）",
  "tokens.scope.usage:read": "usage:read（只读查询、导出 CSV）",
  "tokens.scope.metrics": "metrics（仅 Prometheus 抓取 /metrics）",
  "tokens.scope.admin": "admin（全部权限，含令牌管理）",
  "tokens.creating": "正在创建…",
  "tokens.created": "令牌已创建。请立即复制保存，关闭后将无法再次查看：",
  "tokens.copy": "复制",
  "tokens.copied": "已复制",
  "tokens.dismiss": "我已保存",
  "tokens.prefix": "前缀",
  "tokens.createdAt": "创建时间",
  "tokens.lastUsed": "最后使用",
  "tokens.never": "从未使用",
  "tokens.actions": "操作",
  "tokens.revoke": "吊销",
  "tokens.revokeConfirm": "确定吊销令牌「{name}」吗？使用它的脚本将立即无法访问。",
  "tokens.revokeAll": "吊销全部令牌",
  "tokens.revokeAllConfirm": "确定吊销全部 {count} 个 API 令牌吗？所有使用它们的脚本和中转服务将立即无法访问。",
  "tokens.empty": "还没有 API 令牌",
  "tokens.failed": "操作失败：{message}",

  "password.title": "修改密码",
  "password.intro": "修改后所有会话（包括当前会话）都会退出，需要用新密码重新登录。API 令牌不受影响：如需一并作废，请在 API 令牌页选择「吊销全部令牌」。",
  "password.current": "当前密码",
  "password.new": "新密码",
  "password.confirm": "确认新密码",
  "password.hint": "至少 {min} 个字符",
  "password.mismatch": "两次输入的新密码不一致",
  "password.submit": "修改密码",
  "password.submitting": "正在修改…",
  "password.failed": "修改失败：{message}",
};

type Key = keyof typeof zhCN;

const en: Record<Key, string> = {
  "nav.label": "Main",
  "nav.home": "Usage breakdown",
  "nav.accounts": "Accounts",
  "nav.tokens": "API tokens",
  "nav.password": "Change password",
  "nav.signedInAs": "Signed in as {name}",
  "nav.signOut": "Sign out",

  "tokens.title": "API tokens",
  "tokens.intro": "Scripts and the relay call the API with a token (Authorization: Bearer <token>). A token is shown only once, when it is created.",
  "tokens.create": "Create token",
  "tokens.name": "Name",
  "tokens.scope": "Scope",
  "tokens.scope.usage:write": "usage:write (ingest usage, maintain accounts and keys)",
  "tokens.scope.usage:read": "usage:read (read-only queries, CSV export)",
  "tokens.scope.metrics": "metrics (Prometheus scraping /metrics only)",
  "tokens.scope.admin": "admin (everything, token management included)",
  "tokens.creating": "Creating…",
  "tokens.created": "Token created. Copy it now; it cannot be shown again:",
  "tokens.copy": "Copy",
  "tokens.copied": "Copied",
  "tokens.dismiss": "I have saved it",
  "tokens.prefix": "Prefix",
  "tokens.createdAt": "Created",
  "tokens.lastUsed": "Last used",
  "tokens.never": "Never",
  "tokens.actions": "Actions",
  "tokens.revoke": "Revoke",
  "tokens.revokeConfirm": "Revoke the token “{name}”? Scripts using it lose access at once.",
  "tokens.revokeAll": "Revoke all tokens",
  "tokens.revokeAllConfirm": "Revoke all {count} API tokens? Every script and relay using them loses access at once.",
  "tokens.empty": "No API tokens yet",
  "tokens.failed": "Failed: {message}",

  "password.title": "Change password",
  "password.intro": "Every session, this one included, is signed out afterwards; sign in again with the new password. API tokens keep working: to end them too, use “Revoke all tokens” on the API tokens page.",
  "password.current": "Current password",
  "password.new": "New password",
  "password.confirm": "Confirm new password",
  "password.hint": "At least {min} characters",
  "password.mismatch": "The new passwords do not match",
  "password.submit": "Change password",
  "password.submitting": "Changing…",
  "password.failed": "Failed: {message}",
};

export type SettingsMessages = Record<Key, string>;
export const SETTINGS_MESSAGES: Record<Locale, SettingsMessages> = { "zh-CN": zhCN, en };

export function fill(text: string, vars: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}
