import { fitted, JSON_HEADERS, markdown, parseJson, snippet } from "./format";
import type { ChannelDriver } from "./types";

/**
 * WeCom group robot (企业微信群机器人): {"msgtype":"markdown","markdown":{"content":…}} POSTed to
 * https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; the content may hold 4096 bytes of UTF-8.
 * It answers 200 with {"errcode":0,"errmsg":"ok"}. No signature: the key in the URL is the secret.
 */

const MAX_CONTENT_BYTES = 4096;

export const wecom: ChannelDriver<"wecom"> = {
  build(target, ctx) {
    const content = fitted(
      ctx.payload,
      ctx.language,
      ctx.channelName,
      (m) => markdown(m, ctx.language, "\n"),
      (s) => Buffer.byteLength(s) <= MAX_CONTENT_BYTES,
    );
    return { url: target.url, headers: { ...JSON_HEADERS }, body: JSON.stringify({ msgtype: "markdown", markdown: { content } }) };
  },
  judge(status, body) {
    const r = parseJson(body);
    if (status === 200 && r?.errcode === 0) return { ok: true };
    if (r && typeof r.errcode === "number") return { ok: false, error: `WeCom errcode ${r.errcode}: ${snippet(String(r.errmsg ?? ""))}` };
    return { ok: false, error: `HTTP ${status}${body ? `: ${snippet(body)}` : ""}` };
  },
};
