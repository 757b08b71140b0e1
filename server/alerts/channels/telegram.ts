import { fitted, JSON_HEADERS, parseJson, snippet, words, type Message } from "./format";
import type { ChannelDriver } from "./types";
import type { ChannelLanguage } from "../notification";

/**
 * Telegram bot: sendMessage of the Bot API, POST {apiBaseUrl}/bot<token>/sendMessage with
 * {chat_id, text, parse_mode: "HTML"}; it answers {"ok":true,…} or {"ok":false,"error_code",
 * "description"}. A message holds at most 4096 characters. apiBaseUrl lets a relay sit in front of
 * api.telegram.org (the token still travels in the path).
 */

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const attr = (s: string) => esc(s).replace(/"/g, "&quot;");
const MAX_CHARS = 4096;

function html(m: Message, language: ChannelLanguage): string {
  const c = words(language).colon;
  const parts = [`<b>${esc(m.title)}</b>\n${esc(m.intro)}`];
  for (const b of m.blocks) {
    const lines = [`<b>${esc(b.heading)}</b>`, ...b.lines.map((l) => `${esc(l.label)}${c}${esc(l.value)}`)];
    if (b.link) lines.push(`<a href="${attr(b.link.url)}">${esc(b.link.text)}</a>`);
    parts.push(lines.join("\n"));
  }
  if (m.more) parts.push(esc(m.more));
  if (m.links.length) parts.push(m.links.map((l) => `<a href="${attr(l.url)}">${esc(l.text)}</a>`).join("\n"));
  return parts.join("\n\n");
}

export const telegram: ChannelDriver<"telegram"> = {
  build(target, ctx) {
    const text = fitted(ctx.payload, ctx.language, ctx.channelName, (m) => html(m, ctx.language), (s) => [...s].length <= MAX_CHARS);
    const base = target.apiBaseUrl.replace(/\/+$/, "");
    return {
      url: `${base}/bot${target.botToken}/sendMessage`,
      headers: { ...JSON_HEADERS },
      body: JSON.stringify({ chat_id: target.chatId, text, parse_mode: "HTML", link_preview_options: { is_disabled: true } }),
    };
  },
  judge(status, body) {
    const r = parseJson(body);
    if (r?.ok === true) return { ok: true };
    if (r && r.ok === false) return { ok: false, error: `Telegram ${String(r.error_code ?? status)}: ${snippet(String(r.description ?? ""))}` };
    return { ok: false, error: `HTTP ${status}${body ? `: ${snippet(body)}` : ""}` };
  },
};
