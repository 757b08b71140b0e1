import { fitted, JSON_HEADERS, snippet, words, type Message } from "./format";
import type { ChannelDriver } from "./types";
import type { ChannelLanguage } from "../notification";

/**
 * Slack incoming webhook: {"text": fallback, "blocks": [section …]} with mrkdwn text, POSTed to
 * https://hooks.slack.com/services/…; it answers 200 with the body "ok" (errors: 4xx and a word
 * such as invalid_payload or no_service).
 */

// mrkdwn only needs &, < and > escaped (https://api.slack.com/reference/surfaces/formatting#escaping).
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const link = (url: string, text: string) => `<${url.replace(/[<>|]/g, encodeURIComponent)}|${esc(text)}>`;

function blocks(m: Message, language: ChannelLanguage) {
  const c = words(language).colon;
  const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });
  const out: object[] = [section(`*${esc(m.title)}*\n${esc(m.intro)}`)];
  for (const b of m.blocks) {
    const lines = [`*${esc(b.heading)}*`, ...b.lines.map((l) => `${esc(l.label)}${c}${esc(l.value)}`)];
    if (b.link) lines.push(link(b.link.url, b.link.text));
    out.push(section(lines.join("\n")));
  }
  const foot = [...(m.more ? [esc(m.more)] : []), ...m.links.map((l) => link(l.url, l.text))];
  if (foot.length) out.push({ type: "context", elements: foot.map((text) => ({ type: "mrkdwn", text })) });
  return out;
}

// Slack takes at most 50 blocks per message: 20 alert sections (fitted's cap) and 2 more stay inside.
export const slack: ChannelDriver<"slack"> = {
  build(target, ctx) {
    const body = fitted(
      ctx.payload,
      ctx.language,
      ctx.channelName,
      (m) => JSON.stringify({ text: esc(m.title), blocks: blocks(m, ctx.language) }),
      () => true,
    );
    return { url: target.url, headers: { ...JSON_HEADERS }, body };
  },
  judge(status, body) {
    if (status === 200 && body.trim() === "ok") return { ok: true };
    return { ok: false, error: `HTTP ${status}${body ? `: ${snippet(body)}` : ""}` };
  },
};
