import { createHmac } from "node:crypto";
import { fitted, JSON_HEADERS, parseJson, snippet, words, type Message } from "./format";
import type { ChannelDriver } from "./types";
import type { ChannelLanguage } from "../notification";

/**
 * Feishu / Lark custom bot (自定义机器人): a rich-text `post` message POSTed to
 * https://open.feishu.cn/open-apis/bot/v2/hook/…; it answers {"code":0,…} (older bots:
 * {"StatusCode":0,…}). With 签名校验 the body also carries `timestamp` (seconds, a string) and
 * `sign`: base64 of HMAC-SHA256 keyed by `${timestamp}\n${secret}` over the empty string.
 */

export function feishuSign(secret: string, timestampSeconds: string): string {
  return createHmac("sha256", `${timestampSeconds}\n${secret}`).update("").digest("base64");
}

type Node = { tag: "text"; text: string } | { tag: "a"; text: string; href: string };

function post(m: Message, language: ChannelLanguage) {
  const c = words(language).colon;
  const rows: Node[][] = [[{ tag: "text", text: m.intro }]];
  for (const b of m.blocks) {
    rows.push([{ tag: "text", text: "" }], [{ tag: "text", text: b.heading }]);
    for (const l of b.lines) rows.push([{ tag: "text", text: `${l.label}${c}${l.value}` }]);
    if (b.link) rows.push([{ tag: "a", text: b.link.text, href: b.link.url }]);
  }
  if (m.more) rows.push([{ tag: "text", text: m.more }]);
  for (const l of m.links) rows.push([{ tag: "a", text: l.text, href: l.url }]);
  return { [language === "en" ? "en_us" : "zh_cn"]: { title: m.title, content: rows } };
}

// A custom bot's request body may hold about 20 KB.
const MAX_BYTES = 18_000;

export const feishu: ChannelDriver<"feishu"> = {
  build(target, ctx) {
    const signature = target.secret
      ? (() => {
          const timestamp = String(Math.floor(ctx.now / 1000));
          return { timestamp, sign: feishuSign(target.secret, timestamp) };
        })()
      : {};
    const body = fitted(
      ctx.payload,
      ctx.language,
      ctx.channelName,
      (m) => JSON.stringify({ ...signature, msg_type: "post", content: { post: post(m, ctx.language) } }),
      (s) => Buffer.byteLength(s) <= MAX_BYTES,
    );
    return { url: target.url, headers: { ...JSON_HEADERS }, body };
  },
  judge(status, body) {
    const r = parseJson(body);
    const code = r?.code ?? r?.StatusCode;
    if (status >= 200 && status < 300 && code === 0) return { ok: true };
    if (typeof code === "number") return { ok: false, error: `Feishu code ${code}: ${snippet(String(r?.msg ?? r?.StatusMessage ?? ""))}` };
    return { ok: false, error: `HTTP ${status}${body ? `: ${snippet(body)}` : ""}` };
  },
};
