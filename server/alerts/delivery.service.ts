import { performance } from "node:perf_hooks";
import type { Kysely } from "kysely";
import type { Database } from "../../db/types";
import { AppError } from "../errors";
import { logger } from "../logger";
import { metrics } from "../metrics/metrics";
import type { Clock, Runtime } from "../runtime";
import type { ChannelRow } from "./channels.repository";
import type { DeliveryPage, ListDeliveriesInput, TestMessageResult } from "./channels.schemas";
import { buildRequest, judgeResponse } from "./channels/index";
import { loadTarget } from "./channels/stored";
import * as repo from "./deliveries.repository";
import type { NotificationPayload } from "./notification";
import { OutboundError, postOutbound, type Resolver } from "./outbound";

/**
 * Sending notifications: each (notification, channel) is a delivery row; every process with a
 * database runs a DeliveryLoop that claims due deliveries (FOR UPDATE SKIP LOCKED, so one process
 * sends each), sends a few at once through the guarded outbound client, records every attempt and
 * retries with exponential backoff until ALERT_DELIVERY_MAX_ATTEMPTS. The evaluator only inserts
 * rows (enqueueDeliveries) and calls wake(): a receiver that hangs costs a loop slot for
 * ALERT_DELIVERY_TIMEOUT_MS, never an evaluation or an ingest.
 */

export interface DeliveryOptions {
  /** Times of claims, attempts and retries (tests move it); default runtime.clock. */
  clock?: Clock;
  /** DNS for the outbound client (tests); default the system resolver. */
  resolve?: Resolver;
  /** Deliveries sent at once by one process; default 4. */
  concurrency?: number;
  /** Pause between rounds when nothing woke the loop; default 5 s. */
  intervalMs?: number;
}

const MAX_BACKOFF_SECONDS = 3600;
// A claim outlives the longest send by this margin before another process may take it over.
const CLAIM_MARGIN_MS = 60_000;

/** Seconds before attempt `attempt + 1`: base × 2^(attempt − 1), at most an hour. */
export function retryDelaySeconds(baseSeconds: number, attempt: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

function dbOf(runtime: Runtime): Kysely<Database> {
  if (!runtime.db) throw new AppError("UNAVAILABLE", "Alerts need PostgreSQL (POSTGRES_ENABLED=false)", { retryAfterSeconds: 5 });
  return runtime.db.db;
}

/**
 * Queues a notification for each channel, due at once. Call it inside the transaction that inserts
 * the alert_notifications row (pass the transaction as `db`), then wake the loop after commit.
 * Returns the delivery ids.
 */
export async function enqueueDeliveries(db: Kysely<Database>, notificationId: number, channels: readonly { id: string; name: string }[], now: Date): Promise<number[]> {
  return repo.insertDeliveries(
    db,
    channels.map((c) => ({ notificationId, channelId: c.id, channelName: c.name, nextAttemptAt: now, createdAt: now })),
  );
}

interface Sendable {
  id: number;
  notificationId: number;
  attempts: number;
  channelId: string;
  channelName: string;
  payload: NotificationPayload;
  channel: Pick<ChannelRow, "kind" | "language" | "settings" | "secret_ciphertext">;
}

interface AttemptResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  at: Date;
}

/** One attempt: decrypt, build the channel's request, POST it, judge the answer. Never throws. */
async function attempt(runtime: Runtime, db: Kysely<Database>, d: Sendable, clock: Clock, resolve: Resolver | undefined): Promise<AttemptResult> {
  const at = new Date(clock.now());
  const started = performance.now();
  let httpStatus: number | null = null;
  let error: string | null = null;
  try {
    const target = await loadTarget(db, runtime.config.alertSecretsKey, d.channelId, d.channel);
    const request = buildRequest(target, {
      payload: d.payload,
      language: d.channel.language,
      channelName: d.channelName,
      notificationId: d.notificationId,
      deliveryId: d.id,
      now: at.getTime(),
    });
    const res = await postOutbound(request, { timeoutMs: runtime.config.alertDeliveryTimeoutMs, allowPrivate: runtime.config.alertAllowPrivateTargets, resolve });
    httpStatus = res.status;
    const verdict = judgeResponse(d.channel.kind, res.status, res.body);
    if (!verdict.ok) error = verdict.error;
  } catch (err) {
    error = err instanceof OutboundError ? err.message : `${(err as Error).name === "SecretsError" ? "" : "internal error: "}${(err as Error).message}`;
  }
  const durationMs = Math.round(performance.now() - started);
  metrics().alertDeliveryAttempts.inc({ channel_kind: d.channel.kind, result: error === null ? "ok" : "error" });
  return { ok: error === null, httpStatus, error, durationMs, at };
}

type Outcome = "sent" | "retry" | "failed";

async function deliverClaimed(runtime: Runtime, db: Kysely<Database>, c: repo.ClaimedDelivery, clock: Clock, resolve: Resolver | undefined): Promise<Outcome> {
  const max = runtime.config.alertDeliveryMaxAttempts;
  const stop = async (why: string) => {
    await repo.giveUp(db, c.id, c.attempts, why);
    logger.warn(`[alerts] delivery ${c.id} to channel "${c.channel_name}" given up: ${why}`);
    return "failed" as const;
  };
  if (c.attempts > max) return stop(`gave up after ${max} attempts (the process sending the last one stopped)`);
  if (!c.channel || !c.channel_id) return stop("the channel was deleted");
  if (!c.channel.enabled) return stop("the channel is disabled");
  const r = await attempt(runtime, db, { id: c.id, notificationId: c.notification_id, attempts: c.attempts, channelId: c.channel_id, channelName: c.channel.name, payload: c.payload, channel: c.channel }, clock, resolve);
  const outcome = { deliveryId: c.id, attempt: c.attempts, at: r.at, durationMs: r.durationMs, httpStatus: r.httpStatus, ok: r.ok, error: r.error };
  if (r.ok) {
    await repo.finishAttempt(db, outcome, { status: "sent" });
    return "sent";
  }
  if (c.attempts >= max) {
    await repo.finishAttempt(db, outcome, { status: "failed" });
    logger.warn(`[alerts] delivery ${c.id} to channel "${c.channel_name}" failed after ${c.attempts} attempts: ${r.error}`);
    return "failed";
  }
  const retryAt = new Date(clock.now() + retryDelaySeconds(runtime.config.alertRetryBaseSeconds, c.attempts) * 1000);
  await repo.finishAttempt(db, outcome, { status: "pending", retryAt });
  return "retry";
}

export interface RoundResult {
  sent: number;
  retried: number;
  failed: number;
}

/**
 * Claims and sends due deliveries, `concurrency` at a time: a slot that frees (or wake(), or the
 * timer) claims more at once, so a receiver that hangs holds one slot until its timeout and the
 * others keep going.
 */
export class DeliveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly inFlight = new Set<Promise<void>>();
  private filling: Promise<void> | undefined;
  private refill = false;
  private readonly tally: RoundResult = { sent: 0, retried: 0, failed: 0 };
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly intervalMs: number;

  constructor(
    private readonly runtime: Runtime,
    private readonly opts: DeliveryOptions = {},
  ) {
    this.clock = opts.clock ?? runtime.clock;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.intervalMs = opts.intervalMs ?? 5000;
  }

  start(): void {
    if (!this.stopped || !this.runtime.db) return;
    this.stopped = false;
    const tick = () => {
      this.wake();
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Claims what is due now into the free slots (returns at once; the sends go on in the background). */
  wake(): void {
    if (!this.stopped) void this.fill();
  }

  /** Stops claiming and waits for the sends under way (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.filling;
    await Promise.all([...this.inFlight]);
  }

  /** Sends every delivery due now and waits for them: the counts of this call. For tests and scripts. */
  async runOnce(): Promise<RoundResult> {
    const before = { ...this.tally };
    for (;;) {
      await this.fill();
      if (this.inFlight.size === 0) break;
      await Promise.race(this.inFlight);
    }
    return { sent: this.tally.sent - before.sent, retried: this.tally.retried - before.retried, failed: this.tally.failed - before.failed };
  }

  /** One claim at a time per loop; a request while one runs makes it claim again. */
  private fill(): Promise<void> {
    if (this.filling) {
      this.refill = true;
      return this.filling;
    }
    this.filling = (async () => {
      const db = dbOf(this.runtime);
      do {
        this.refill = false;
        while (this.inFlight.size < this.concurrency) {
          const free = this.concurrency - this.inFlight.size;
          const now = this.clock.now();
          const claimed = await repo.claimDue(db, new Date(now), new Date(now + this.runtime.config.alertDeliveryTimeoutMs + CLAIM_MARGIN_MS), free);
          for (const c of claimed) this.launch(db, c);
          if (claimed.length < free) break;
        }
      } while (this.refill && this.inFlight.size < this.concurrency);
    })()
      .catch((err) => logger.warn(`[alerts] claiming deliveries failed: ${(err as Error).message}`))
      .finally(() => {
        this.filling = undefined;
      });
    return this.filling;
  }

  private launch(db: Kysely<Database>, c: repo.ClaimedDelivery): void {
    const p: Promise<void> = deliverClaimed(this.runtime, db, c, this.clock, this.opts.resolve)
      .then(
        (o) => {
          this.tally[o === "retry" ? "retried" : o]++;
        },
        (err) => logger.warn(`[alerts] delivery ${c.id} could not be recorded: ${(err as Error).message}`),
      )
      .finally(() => {
        this.inFlight.delete(p);
        if (!this.stopped) void this.fill();
      });
    this.inFlight.add(p);
  }
}

/** A test notification's payload: no rule, no alerts; channels say "this is a test from <name>". */
function testPayload(at: Date, publicUrl: string | undefined): NotificationPayload {
  return {
    kind: "test",
    rule: { id: "00000000-0000-0000-0000-000000000000", name: "", condition: "above", measure: "cost", measureKind: "money", window: { kind: "today", size: null, from: at.toISOString(), to: at.toISOString() } },
    alerts: [],
    at: at.toISOString(),
    consoleUrl: publicUrl ? new URL("alerts", publicUrl.endsWith("/") ? publicUrl : `${publicUrl}/`).toString() : null,
  };
}

/**
 * Sends a test notification to one channel now, in one attempt, recorded like any delivery
 * (a 'test' notification, one delivery, its attempt). For channels.service's sendTestMessage.
 */
export async function sendTestDelivery(runtime: Runtime, channel: ChannelRow, opts: Pick<DeliveryOptions, "clock" | "resolve"> = {}): Promise<TestMessageResult> {
  const db = dbOf(runtime);
  const clock = opts.clock ?? runtime.clock;
  const now = new Date(clock.now());
  const { deliveryId, notificationId, payload } = await db.transaction().execute(async (tx) => {
    const p = testPayload(now, runtime.config.publicUrl);
    const id = await repo.insertNotification(tx, { ruleId: null, kind: "test", payload: p, createdAt: now });
    const [did] = await repo.insertDeliveries(tx, [
      {
        notificationId: id,
        channelId: channel.id,
        channelName: channel.name,
        status: "sending",
        attempts: 1,
        nextAttemptAt: now,
        claimedUntil: new Date(now.getTime() + runtime.config.alertDeliveryTimeoutMs + CLAIM_MARGIN_MS),
        createdAt: now,
      },
    ]);
    return { deliveryId: did!, notificationId: id, payload: p };
  });
  const r = await attempt(runtime, db, { id: deliveryId, notificationId, attempts: 1, channelId: channel.id, channelName: channel.name, payload, channel }, clock, opts.resolve);
  await repo.finishAttempt(
    db,
    { deliveryId, attempt: 1, at: r.at, durationMs: r.durationMs, httpStatus: r.httpStatus, ok: r.ok, error: r.error },
    { status: r.ok ? "sent" : "failed" },
  );
  return { ok: r.ok, httpStatus: r.httpStatus, error: r.error, durationMs: r.durationMs, deliveryId };
}

/** Deliveries (of a notification, a channel, or all), newest first, each with its attempts. */
export async function listDeliveries(runtime: Runtime, input: ListDeliveriesInput): Promise<DeliveryPage> {
  const db = dbOf(runtime);
  const rows = await repo.listDeliveries(db, input);
  const attempts = await repo.attemptsOf(
    db,
    rows.map((r) => r.id),
  );
  const byDelivery = new Map<number, repo.AttemptRow[]>();
  for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    items: rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      notificationKind: r.notification_kind,
      ruleId: r.rule_id,
      channelId: r.channel_id,
      channelName: r.channel_name,
      channelKind: r.channel_kind,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.status === "pending" ? iso(r.next_attempt_at) : null,
      lastError: r.last_error,
      sentAt: iso(r.sent_at),
      createdAt: iso(r.created_at)!,
      attemptLog: (byDelivery.get(r.id) ?? []).map((a) => ({ attempt: a.attempt, at: iso(a.at)!, durationMs: a.duration_ms, httpStatus: a.http_status, ok: a.ok, error: a.error })),
    })),
    nextCursor: rows.length === input.limit ? rows[rows.length - 1]!.id : null,
  };
}
