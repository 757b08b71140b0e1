import { sql, type Kysely, type Selectable } from "kysely";
import type { AlertChannelsTable, AlertDeliveriesTable, AlertDeliveryAttemptsTable, Database } from "../../db/types";
import type { NotificationKind, NotificationPayload } from "./notification";

/** alert_notifications (the test ones), alert_deliveries and alert_delivery_attempts. */

export type DeliveryRow = Selectable<AlertDeliveriesTable>;
export type AttemptRow = Selectable<AlertDeliveryAttemptsTable>;

export async function insertNotification(
  db: Kysely<Database>,
  n: { ruleId: string | null; kind: NotificationKind; payload: NotificationPayload; createdAt: Date },
): Promise<number> {
  const row = await db
    .insertInto("alert_notifications")
    .values({ rule_id: n.ruleId, kind: n.kind, payload: JSON.stringify(n.payload), created_at: n.createdAt })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertDeliveries(
  db: Kysely<Database>,
  rows: { notificationId: number; channelId: string; channelName: string; status?: "pending" | "sending"; attempts?: number; nextAttemptAt: Date; claimedUntil?: Date; createdAt: Date }[],
): Promise<number[]> {
  if (rows.length === 0) return [];
  const out = await db
    .insertInto("alert_deliveries")
    .values(
      rows.map((r) => ({
        notification_id: r.notificationId,
        channel_id: r.channelId,
        channel_name: r.channelName,
        status: r.status ?? "pending",
        attempts: r.attempts ?? 0,
        next_attempt_at: r.nextAttemptAt,
        claimed_until: r.claimedUntil ?? null,
        created_at: r.createdAt,
      })),
    )
    .returning("id")
    .execute();
  return out.map((r) => r.id);
}

/** A claimed delivery with what sending it needs (channel columns null once the channel is gone). */
export interface ClaimedDelivery {
  id: number;
  attempts: number;
  notification_id: number;
  channel_id: string | null;
  channel_name: string;
  payload: NotificationPayload;
  channel: Pick<Selectable<AlertChannelsTable>, "kind" | "language" | "enabled" | "settings" | "secret_ciphertext" | "name"> | null;
}

/**
 * Claims up to `limit` due deliveries — pending ones whose time has come, and 'sending' ones whose
 * claim lapsed (the process sending them stopped) — for this process until `claimUntil`, counting
 * the attempt. SKIP LOCKED: processes claiming at once each get different rows.
 */
export async function claimDue(db: Kysely<Database>, now: Date, claimUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
  const r = await sql<{
    id: number;
    attempts: number;
    notification_id: number;
    channel_id: string | null;
    channel_name: string;
    payload: NotificationPayload;
    kind: AlertChannelsTable["kind"] | null;
    language: "zh-CN" | "en" | null;
    enabled: boolean | null;
    settings: Record<string, unknown> | null;
    secret_ciphertext: string | null;
    current_name: string | null;
  }>`
    WITH due AS (
      SELECT id FROM alert_deliveries
      WHERE (status = 'pending' AND next_attempt_at <= ${now}) OR (status = 'sending' AND claimed_until < ${now})
      ORDER BY next_attempt_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE alert_deliveries d
      SET status = 'sending', attempts = d.attempts + 1, claimed_until = ${claimUntil}
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.attempts, d.notification_id, d.channel_id, d.channel_name
    )
    SELECT c.id, c.attempts, c.notification_id, c.channel_id, c.channel_name, n.payload,
           ch.kind, ch.language, ch.enabled, ch.settings, ch.secret_ciphertext, ch.name AS current_name
    FROM claimed c
    JOIN alert_notifications n ON n.id = c.notification_id
    LEFT JOIN alert_channels ch ON ch.id = c.channel_id
    ORDER BY c.id`.execute(db);
  return r.rows.map((x) => ({
    id: Number(x.id),
    attempts: x.attempts,
    notification_id: Number(x.notification_id),
    channel_id: x.channel_id,
    channel_name: x.channel_name,
    payload: x.payload,
    channel:
      x.kind === null
        ? null
        : { kind: x.kind, language: x.language!, enabled: x.enabled!, settings: x.settings ?? {}, secret_ciphertext: x.secret_ciphertext!, name: x.current_name! },
  }));
}

export interface AttemptOutcome {
  deliveryId: number;
  attempt: number;
  at: Date;
  durationMs: number;
  httpStatus: number | null;
  ok: boolean;
  error: string | null;
}

/**
 * Records an attempt and moves the delivery on: 'sent', 'failed', or 'pending' again at
 * `retryAt`. Only while this attempt's claim holds (status 'sending', same attempt count): a
 * process whose claim lapsed and was taken over records its attempt without moving the delivery.
 */
export async function finishAttempt(
  db: Kysely<Database>,
  o: AttemptOutcome,
  next: { status: "sent" } | { status: "failed" } | { status: "pending"; retryAt: Date },
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    await tx
      .insertInto("alert_delivery_attempts")
      .values({ delivery_id: o.deliveryId, attempt: o.attempt, at: o.at, duration_ms: o.durationMs, http_status: o.httpStatus, ok: o.ok, error: o.error })
      .execute();
    const r = await tx
      .updateTable("alert_deliveries")
      .set({
        status: next.status,
        claimed_until: null,
        last_error: o.ok ? null : o.error,
        ...(next.status === "sent" && { sent_at: o.at }),
        ...(next.status === "pending" && { next_attempt_at: next.retryAt }),
      })
      .where("id", "=", o.deliveryId)
      .where("status", "=", "sending")
      .where("attempts", "=", o.attempt)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  });
}

export interface DeliveryFilter {
  notificationId?: number;
  channelId?: string;
  status?: DeliveryRow["status"];
  before?: number;
  limit: number;
}

export type DeliveryListRow = DeliveryRow & { notification_kind: NotificationKind; rule_id: string | null; channel_kind: AlertChannelsTable["kind"] | null };

/** Deliveries newest first (by id), at most `limit`, below the `before` cursor. */
export async function listDeliveries(db: Kysely<Database>, f: DeliveryFilter): Promise<DeliveryListRow[]> {
  let q = db
    .selectFrom("alert_deliveries as d")
    .innerJoin("alert_notifications as n", "n.id", "d.notification_id")
    .leftJoin("alert_channels as ch", "ch.id", "d.channel_id")
    .selectAll("d")
    .select(["n.kind as notification_kind", "n.rule_id", "ch.kind as channel_kind"]);
  if (f.notificationId !== undefined) q = q.where("d.notification_id", "=", f.notificationId);
  if (f.channelId !== undefined) q = q.where("d.channel_id", "=", f.channelId);
  if (f.status !== undefined) q = q.where("d.status", "=", f.status);
  if (f.before !== undefined) q = q.where("d.id", "<", f.before);
  return q.orderBy("d.id", "desc").limit(f.limit).execute();
}

export async function attemptsOf(db: Kysely<Database>, deliveryIds: readonly number[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  return db.selectFrom("alert_delivery_attempts").selectAll().where("delivery_id", "in", deliveryIds).orderBy("delivery_id").orderBy("attempt").orderBy("id").execute();
}

/**
 * Gives a claimed delivery up without sending (its channel is gone, disabled or unreadable, or the
 * last allowed attempt's process stopped): the claim's attempt did not happen, so it is not counted.
 */
export async function giveUp(db: Kysely<Database>, deliveryId: number, attempt: number, error: string): Promise<boolean> {
  const r = await db
    .updateTable("alert_deliveries")
    .set({ status: "failed", claimed_until: null, last_error: error, attempts: sql<number>`attempts - 1` })
    .where("id", "=", deliveryId)
    .where("status", "=", "sending")
    .where("attempts", "=", attempt)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
