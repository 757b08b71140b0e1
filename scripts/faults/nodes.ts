import calculateSlot from "cluster-key-slot";
import { sql } from "kysely";
import { loadMigrations } from "../../db/migrator";
import { CLUSTER_SCHEME, isCluster } from "../../server/redis";
import { hotKeys, OUTBOX_GROUP } from "../../server/usage/hot-keys";
import { waitFor, type OwnCluster } from "../../server/testing/servers";
import { sleep, World, type Servers } from "./harness";
import type { AppProcess } from "./infra";
import { pollReads, reportOf, steadyStream, type ScenarioReport } from "./scenarios";

/**
 * Scenarios 8 and 9: beyond one machine. Two app processes and a separate worker against one
 * PostgreSQL and a real 3-master Redis Cluster (AOF, fsync always): the migrations raced at
 * start-up, ingest spread over both nodes, one node SIGKILLed while its drainer holds entries, and
 * a cluster master SIGKILLed mid-ingest and restarted. Every figure is audited exactly at the end.
 */

async function clusterWorld(servers: Servers, name: string): Promise<{ w: World; cluster: OwnCluster }> {
  if (!servers.cluster) throw new Error("the suite has no Redis Cluster");
  const cluster = await servers.cluster();
  const w = await World.create(servers, name, { redisUrl: `${CLUSTER_SCHEME}${cluster.nodes}`, nodes: 2, worker: true });
  return { w, cluster };
}

/** Until the writers have posted `n` events (bounded: a writer that gave up fails the wait). */
async function sentAtLeast(w: World, n: number): Promise<void> {
  await waitFor(() => w.counts.sent >= n || w.failures.length > 0, `${n} events sent`, 120_000);
  if (w.counts.sent < n) throw new Error(`the writers stopped at ${w.counts.sent} events: ${w.failures[0]}`);
}

/** Checks that three processes racing the migrations on an empty database applied each once. */
async function migrationsRaced(w: World): Promise<string[]> {
  const rows = await sql<{ name: string; n: number }>`select name, count(*)::int as n from schema_migrations group by name order by name`.execute(w.runtime.db!.db);
  const want = loadMigrations().map((m) => m.name);
  const got = rows.rows.map((r) => r.name);
  const problems: string[] = [];
  if (got.join() !== want.join()) problems.push(`schema_migrations holds ${got.join(", ")}; expected ${want.join(", ")}`);
  for (const r of rows.rows) if (r.n !== 1) problems.push(`migration ${r.name} recorded ${r.n} times`);
  if (!problems.length) w.notes.push(`2 app nodes and the worker started at once on an empty database: each of the ${want.length} migrations applied once, all three healthy`);
  return problems;
}

/** Outbox entries each consumer holds delivered and unacknowledged (XPENDING's summary form). */
async function pendingByConsumer(w: World): Promise<Map<string, number>> {
  const reply = (await w.redisClient.xpending(hotKeys(w.prefix).outbox(), OUTBOX_GROUP)) as [number, string | null, string | null, [string, string][] | null];
  return new Map((reply[3] ?? []).map(([c, n]) => [c, Number(n)]));
}

/** The drainer's consumer name ends in `-<pid>-<hex>`: is it one of this process group's? */
function consumerOf(app: AppProcess, consumer: string): boolean {
  const parts = consumer.split("-");
  return app.pids().includes(Number(parts[parts.length - 2]));
}

// ---------------------------------------------------------------------------------- 8

export async function nodeKilled(servers: Servers): Promise<ScenarioReport> {
  const started = Date.now();
  const { w } = await clusterWorld(servers, "nodes");
  const extra: string[] = [];
  try {
    extra.push(...(await migrationsRaced(w)));
    const [a, b] = w.apps as [AppProcess, AppProcess];
    const stream = steadyStream(w, { eventsPerSecond: 2000, batchSize: 250, writers: 4 });
    await sentAtLeast(w, 6_000);
    // Kill node A while its drainer holds outbox entries it read and has not acknowledged. Node B
    // and the worker are frozen (SIGSTOP) meanwhile, so that only A's drainer takes new entries
    // (ingest goes to A alone); once XPENDING shows A holding some, A is frozen too and XPENDING
    // read again, so the kill lands for sure before the acknowledgement.
    const others = [b, w.worker!];
    w.apps = [a];
    for (const p of others) p.freeze(true);
    const deadline = Date.now() + 60_000;
    let held: [string, number] | undefined;
    while (!held && Date.now() < deadline) {
      const candidate = [...(await pendingByConsumer(w))].find(([c, n]) => n > 0 && consumerOf(a, c));
      if (!candidate) {
        await sleep(5);
        continue;
      }
      a.freeze(true);
      const still = (await pendingByConsumer(w)).get(candidate[0]) ?? 0;
      if (still > 0) held = [candidate[0], still];
      else a.freeze(false);
    }
    await a.kill("SIGKILL");
    w.apps = [b];
    w.app = b;
    for (const p of others) p.freeze(false);
    if (!held) {
      extra.push("node A's drainer never held an unacknowledged outbox entry: the kill did not land mid-drain");
    } else {
      w.notes.push(`node A SIGKILLed while its drainer (${held[0]}) held ${held[1]} outbox entr${held[1] === 1 ? "y" : "ies"} delivered and unacknowledged; ingest went on through node B alone`);
    }
    await sentAtLeast(w, 20_000);
    await stream.stop();
    // The dead consumer's entries wait claimIdleMs (30 s) before node B or the worker takes them.
    await w.waitDrained(150_000);
    if (held) {
      const left = (await pendingByConsumer(w)).get(held[0]) ?? 0;
      if (left) extra.push(`the killed node's consumer still holds ${left} entries after the drain`);
      else w.notes.push("its entries were claimed (XAUTOCLAIM) and written by node B or the worker: the consumer holds nothing, every event is stored once");
    }
    const audit = await w.audit();
    return reportOf(8, "Two app nodes and a worker on a Redis Cluster, one node SIGKILLed mid-drain", w, audit, started, extra);
  } finally {
    await w.close();
  }
}

// ---------------------------------------------------------------------------------- 9

export async function clusterNodeRestarted(servers: Servers): Promise<ScenarioReport> {
  const started = Date.now();
  const { w, cluster } = await clusterWorld(servers, "clusternode");
  const extra: string[] = [];
  let down: number | undefined;
  try {
    extra.push(...(await migrationsRaced(w)));
    if (!isCluster(w.redisClient)) throw new Error("the audit client is not a Cluster");
    // The master serving the outbox stream (and with it a third of the accounts' counters).
    const outboxKey = hotKeys(w.prefix).outbox();
    const owner = w.redisClient.slots[calculateSlot(outboxKey)]?.[0];
    const victim = cluster.ports.findIndex((p) => owner === `127.0.0.1:${p}`);
    if (victim < 0) throw new Error(`no master of the cluster serves the outbox slot (${owner})`);
    const stream = steadyStream(w, { eventsPerSecond: 1000, batchSize: 200, writers: 2 });
    await sentAtLeast(w, 5_000);
    const postedBefore = w.posted();
    cluster.killNode(victim);
    down = victim;
    const killedAt = Date.now();
    const acc = w.accounts[0]!;
    const stopPolling = pollReads(w, ["/admin/accounts/usage-stats", `/admin/accounts/${acc}/usage-breakdown?range=total`], 300, "postgres");
    // Down until the others have declared the cluster failed and ingest has gone on without it
    // (2,000 more events acknowledged, straight into PostgreSQL), however long that takes here.
    await waitFor(() => cluster.ports.some((_, i) => i !== victim && cluster.clusterState(i) === "fail"), "cluster_state:fail on a surviving master", 30_000);
    const ackedAtFail = w.acked.size;
    await waitFor(() => w.acked.size >= ackedAtFail + 2_000 || w.failures.length > 0, "2,000 events acknowledged during the outage", 120_000);
    await stopPolling();
    // Without the outbox's master nothing acknowledged can be in the outbox: it must be in PostgreSQL already.
    const direct = w.acknowledgedSince(postedBefore);
    const inPg = await w.storedCount(direct);
    const downS = Math.round((Date.now() - killedAt) / 1000);
    await cluster.startNode(victim);
    down = undefined;
    if (inPg === direct.length) {
      w.notes.push(
        `the master serving the outbox (:${cluster.ports[victim]}) SIGKILLed mid-ingest for ${downS} s (until cluster_state:fail and ${w.acked.size - ackedAtFail} events acknowledged without it), then restarted from its AOF; all ${direct.length} events posted and acknowledged meanwhile were in usage_records before it restarted (straight into PostgreSQL); every read answered 200 meanwhile`,
      );
    } else extra.push(`${direct.length - inPg} of ${direct.length} events acknowledged without the outbox's master were not in usage_records before it restarted`);
    await sentAtLeast(w, 15_000);
    await stream.stop();
    await w.waitDrained(120_000);
    const audit = await w.audit({ redisTimeoutMs: 60_000 });
    return reportOf(9, "A Redis Cluster master SIGKILLed mid-ingest and restarted (two nodes, a worker)", w, audit, started, extra);
  } finally {
    if (down !== undefined) await cluster.startNode(down).catch(() => {});
    await w.close();
  }
}
