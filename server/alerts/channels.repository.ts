import { sql, type Kysely, type Selectable } from "kysely";
import type { AlertChannelsTable, Database } from "../../db/types";

/** alert_channels, and the rules' references to them. */

export type ChannelRow = Selectable<AlertChannelsTable>;

/** Inserts `value` under `key` unless one is there, and returns the one kept (so every node agrees). */
export async function ensureSetting(db: Kysely<Database>, key: string, value: string): Promise<string> {
  await db.insertInto("usage_settings").values({ key, value }).onConflict((oc) => oc.column("key").doNothing()).execute();
  const row = await db.selectFrom("usage_settings").select("value").where("key", "=", key).executeTakeFirstOrThrow();
  return row.value;
}

export interface NewChannel {
  id: string;
  name: string;
  kind: ChannelRow["kind"];
  language: ChannelRow["language"];
  enabled: boolean;
  settings: Record<string, unknown>;
  secretCiphertext: string;
  targetHint: string;
}

export async function insertChannel(db: Kysely<Database>, c: NewChannel): Promise<ChannelRow> {
  return db
    .insertInto("alert_channels")
    .values({
      id: c.id,
      name: c.name,
      kind: c.kind,
      language: c.language,
      enabled: c.enabled,
      settings: JSON.stringify(c.settings),
      secret_ciphertext: c.secretCiphertext,
      target_hint: c.targetHint,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findChannel(db: Kysely<Database>, id: string, opts: { forUpdate?: boolean } = {}): Promise<ChannelRow | undefined> {
  let q = db.selectFrom("alert_channels").selectAll().where("id", "=", id);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** Every channel, by name (a relay has a handful). */
export async function listChannels(db: Kysely<Database>): Promise<ChannelRow[]> {
  return db.selectFrom("alert_channels").selectAll().orderBy("name").orderBy("id").limit(1000).execute();
}

export async function findChannelsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<ChannelRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("alert_channels").selectAll().where("id", "in", ids).execute();
}

export interface ChannelPatch {
  name?: string;
  language?: ChannelRow["language"];
  enabled?: boolean;
  settings?: Record<string, unknown>;
  secretCiphertext?: string;
  targetHint?: string;
}

export async function updateChannel(db: Kysely<Database>, id: string, p: ChannelPatch): Promise<ChannelRow | undefined> {
  return db
    .updateTable("alert_channels")
    .set({
      ...(p.name !== undefined && { name: p.name }),
      ...(p.language !== undefined && { language: p.language }),
      ...(p.enabled !== undefined && { enabled: p.enabled }),
      ...(p.settings !== undefined && { settings: JSON.stringify(p.settings) }),
      ...(p.secretCiphertext !== undefined && { secret_ciphertext: p.secretCiphertext }),
      ...(p.targetHint !== undefined && { target_hint: p.targetHint }),
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes the channel; returns false when there was none. */
export async function deleteChannel(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.deleteFrom("alert_channels").where("id", "=", id).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** Takes a channel out of every rule that names it; returns how many rules changed. */
export async function removeChannelFromRules(db: Kysely<Database>, id: string): Promise<number> {
  const r = await db
    .updateTable("alert_rules")
    .set({ channel_ids: sql<string[]>`array_remove(channel_ids, ${id}::uuid)`, updated_at: sql<Date>`now()` })
    .where(sql<boolean>`${id}::uuid = ANY(channel_ids)`)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
