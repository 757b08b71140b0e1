import "server-only";
import { cookies } from "next/headers";
import { LOCALE_COOKIE, toLocale, translator, type Locale } from "./messages";

/** The viewer's language: the `lang` cookie set by the header switch, zh-CN by default. */
export async function getLocale(): Promise<Locale> {
  return toLocale((await cookies()).get(LOCALE_COOKIE)?.value);
}

export async function getTranslator() {
  return translator(await getLocale());
}
