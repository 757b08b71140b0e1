import type { Locale } from "@/app/_i18n/messages";

/** Strings of the sign-in page. Placeholders are written {name}. */
export interface LoginMessages {
  title: string;
  subtitle: string;
  username: string;
  password: string;
  submit: string;
  submitting: string;
  invalid: string;
  tooMany: string;
  failed: string;
}

export const LOGIN_MESSAGES: Record<Locale, LoginMessages> = {
  "zh-CN": {
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
  en: {
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
};
