import type { ChannelKind } from "../notification";
import { dingtalk } from "./dingtalk";
import { feishu } from "./feishu";
import { slack } from "./slack";
import { telegram } from "./telegram";
import type { ChannelDriver, ChannelRequest, ChannelTarget, Judgement, MessageContext } from "./types";
import { webhook } from "./webhook";
import { wecom } from "./wecom";

export type { ChannelRequest, ChannelTarget, Judgement, MessageContext } from "./types";

const DRIVERS: { [K in ChannelKind]: ChannelDriver<K> } = { webhook, feishu, dingtalk, wecom, slack, telegram };

/** The exact HTTP request of a notification for a channel. */
export function buildRequest(target: ChannelTarget, ctx: MessageContext): ChannelRequest {
  return (DRIVERS[target.kind] as ChannelDriver<ChannelKind>).build(target as never, ctx);
}

/** Whether a channel kind's receiver took the message. */
export function judgeResponse(kind: ChannelKind, status: number, body: string): Judgement {
  return DRIVERS[kind].judge(status, body);
}
