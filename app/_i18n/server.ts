import "server-only";
import { getLocale as getIntlLocale } from "next-intl/server";
import { toLocale, type Locale } from "./messages";

/** The viewer's language (see request.ts). */
export async function getLocale(): Promise<Locale> {
  return toLocale(await getIntlLocale());
}
