import { createHmac } from "node:crypto";
import { fitted, JSON_HEADERS, markdown, parseJson, snippet } from "./format";
import type { ChannelDriver } from "./types";

/**
 * DingTalk custom robot (自定义机器人): a markdown message POSTed to
 * https://oapi.dingtalk.com/robot/send?access_token=…; it answers 200 with {"errcode":0,"errmsg":"ok"}.
 * With 加签, the URL also carries `timestamp` (ms) and `sign`: base64 of HMAC-SHA256, keyed by the
 * secret, over `${timestamp}\n${secret}`, URL-encoded.
 */

export function dingtalkSign(secret: string, timestampMs: string): string {
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`, "utf8").digest("base64");
}

// DingTalk takes about 20,000 bytes of markdown; keep well inside.
const MAX_BYTES = 18_000;

export const dingtalk: ChannelDriver<"dingtalk"> = {
  build(target, ctx) {
    const body = fitted(
      ctx.payload,
      ctx.language,
      ctx.channelName,
      (m) => JSON.stringify({ msgtype: "markdown", markdown: { title: m.title, text: markdown(m, ctx.language, "\n\n") } }),
      (s) => Buffer.byteLength(s) <= MAX_BYTES,
    );
    let url = target.url;
    if (target.secret) {
      const timestamp = String(ctx.now);
      const u = new URL(target.url);
      u.searchParams.set("timestamp", timestamp);
      u.searchParams.set("sign", dingtalkSign(target.secret, timestamp));
      url = u.toString();
    }
    return { url, headers: { ...JSON_HEADERS }, body };
  },
  judge(status, body) {
    const r = parseJson(body);
    if (status === 200 && r?.errcode === 0) return { ok: true };
    if (r && typeof r.errcode === "number") return { ok: false, error: `DingTalk errcode ${r.errcode}: ${snippet(String(r.errmsg ?? ""))}` };
    return { ok: false, error: `HTTP ${status}${body ? `: ${snippet(body)}` : ""}` };
  },
};
