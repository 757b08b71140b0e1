import { cookies } from "next/headers";
import { getRequestConfig } from "next-intl/server";
import { getConfig } from "@/server/config";
import { LOCALE_COOKIE, MESSAGES, toLocale } from "./messages";

/**
 * next-intl without locale routing: the language is the `lang` cookie set by the top bar's
 * switch (zh-CN by default), so URLs stay the same in both languages. Dates are shown in the
 * usage time zone, never the viewer's own.
 */
export default getRequestConfig(async () => {
  const locale = toLocale((await cookies()).get(LOCALE_COOKIE)?.value);
  return { locale, messages: MESSAGES[locale], timeZone: getConfig().usageTimezone };
});
