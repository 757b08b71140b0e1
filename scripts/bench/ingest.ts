import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { accountId, accountOfKey, apiKeyId, MODELS, type DatasetOptions } from "./dataset";
import { perEvent, type CpuPerEvent, type CpuSample } from "./cpu";
import { now, request, summarize, type Latency } from "./measure";

/**
 * Writes through the real path: concurrent HTTP clients POST /admin/usage batches to `next start`
 * (validate → Redis outbox + counters, 202), whose drainer moves the outbox into PostgreSQL.
 * An event counts when its transaction committed: the rollup trigger adds it to
 * usage_account_totals in that same transaction, so sum(requests) there is the commit counter.
 */
export interface IngestOptions {
  baseUrl: string;
  writeToken: string;
  seconds: number;
  clients: number;
  batchSize: number;
  runId: string;
  dataset: Pick<DatasetOptions, "accounts" | "keys" | "hotKeys">;
  /** Samples the CPU time of the server, Redis and the bench database's backends. */
  cpu?: () => Promise<CpuSample>;
}

export interface IngestFigures {
  seconds: number;
  clients: number;
  batchSize: number;
  sent: number;
  accepted: number;
  /** Events acknowledged (202) per second during the send window. */
  ackedPerSecond: number;
  /** Committed in PostgreSQL by the end of the send window, per second of it. */
  committedInWindowPerSecond: number;
  /** All accepted events committed / time from the first send to the last commit. */
  sustainedPerSecond: number;
  drainTailMs: number;
  batchAck: Latency;
  activeApiKeys: number;
  activeAccounts: number;
  errors: number;
  /** CPU per committed event over the send window and drain tail. */
  cpuPerEvent?: CpuPerEvent;
}

export interface EventSource {
  next(): { json: string; accountId: string; apiKeyId: string };
}

/** The same skew as the generated history; every request id unique to this run. */
export function eventSource(o: Pick<DatasetOptions, "accounts" | "keys" | "hotKeys">, tag: string, seed: number): EventSource {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    // xorshift32: cheap and reproducible, so the client spends its CPU on HTTP, not on randomness.
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  let seq = 0;
  return {
    next() {
      const k = Math.floor(o.keys * rnd() ** 2);
      const a = accountOfKey(k, o);
      const inp = Math.floor(rnd() * 4000);
      const out = Math.floor(rnd() * 1200);
      const cr = rnd() < 0.5 ? Math.floor(rnd() * 20000) : 0;
      const model = MODELS[Math.floor(MODELS.length * rnd() ** 2)]!;
      const cost = ((inp * 3 + out * 15 + cr * 0.3) / 1e6).toFixed(8);
      const ev = {
        requestId: `${tag}-${seq++}`,
        occurredAt: new Date().toISOString(),
        accountId: accountId(a, o),
        apiKeyId: apiKeyId(k, o),
        model,
        inputTokens: inp,
        outputTokens: out,
        cacheCreateTokens: 0,
        cacheReadTokens: cr,
        cost,
      };
      return { json: JSON.stringify(ev), accountId: ev.accountId, apiKeyId: ev.apiKeyId };
    },
  };
}

export async function committedEvents(pool: pg.Pool): Promise<number> {
  const r = await pool.query(`SELECT coalesce(sum(requests), 0)::text AS n FROM usage_account_totals`);
  return Number(r.rows[0].n);
}

export async function runIngest(pool: pg.Pool, o: IngestOptions, log: (s: string) => void): Promise<IngestFigures> {
  const headers = { authorization: `Bearer ${o.writeToken}`, "content-type": "application/json" };
  const before = await committedEvents(pool);
  const cpuBefore = await o.cpu?.();
  const keys = new Set<string>();
  const accounts = new Set<string>();
  let sent = 0;
  let accepted = 0;
  let errors = 0;
  const acks: number[] = [];
  const started = now();
  const stopAt = started + o.seconds * 1000;

  const client = async (c: number) => {
    const src = eventSource(o.dataset, `ing-${o.runId}-${c}`, 7919 * (c + 1));
    while (now() < stopAt) {
      const parts: string[] = [];
      for (let i = 0; i < o.batchSize; i++) {
        const e = src.next();
        parts.push(e.json);
        keys.add(e.apiKeyId);
        accounts.add(e.accountId);
      }
      const t = now();
      const r = await request(`${o.baseUrl}/admin/usage`, { method: "POST", headers, body: `{"events":[${parts.join(",")}]}` }).catch((err: Error) => ({ status: 0, body: err.message }));
      acks.push(now() - t);
      sent += o.batchSize;
      if (r.status === 202) accepted += (JSON.parse(r.body) as { data: { accepted: number } }).data.accepted;
      else {
        errors++;
        if (errors <= 3) log(`  ingest: POST /admin/usage → ${r.status} ${r.body.slice(0, 200)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  };
  // Commits are sampled while the clients send, to see the window's commit rate.
  let committedAtStop = -1;
  const sampler = (async () => {
    while (now() < stopAt) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(250, stopAt - now()))));
    committedAtStop = (await committedEvents(pool)) - before;
  })();
  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
  const sendEnded = now();
  await sampler;

  // Wait for the drainer to commit every accepted event.
  let committed = committedAtStop;
  let lastCommitAt = sendEnded;
  let lastChange = now();
  while (committed < accepted) {
    await new Promise((r) => setTimeout(r, 100));
    const c = (await committedEvents(pool)) - before;
    if (c !== committed) {
      committed = c;
      lastCommitAt = now();
      lastChange = now();
    } else if (now() - lastChange > 60_000) {
      throw new Error(`ingest: only ${committed} of ${accepted} accepted events were committed; the drainer made no progress for 60 s`);
    }
  }
  if (committed > accepted) throw new Error(`ingest: ${committed} events committed but only ${accepted} accepted`);
  const cpuAfter = await o.cpu?.();
  const windowS = (sendEnded - started) / 1000;
  return {
    seconds: Math.round(windowS * 100) / 100,
    clients: o.clients,
    batchSize: o.batchSize,
    sent,
    accepted,
    ackedPerSecond: Math.round(accepted / windowS),
    committedInWindowPerSecond: Math.round(committedAtStop / windowS),
    sustainedPerSecond: Math.round(accepted / ((lastCommitAt - started) / 1000)),
    drainTailMs: Math.round(lastCommitAt - sendEnded),
    batchAck: summarize(acks),
    activeApiKeys: keys.size,
    activeAccounts: accounts.size,
    errors,
    ...(cpuBefore && cpuAfter ? { cpuPerEvent: perEvent(cpuBefore, cpuAfter, committed) } : {}),
  };
}

/** One event per POST, one at a time: the relay's latency to a 202 on an otherwise idle server. */
export async function singleEventAck(o: Pick<IngestOptions, "baseUrl" | "writeToken" | "runId" | "dataset">, runs: number): Promise<Latency> {
  const headers = { authorization: `Bearer ${o.writeToken}`, "content-type": "application/json" };
  const src = eventSource(o.dataset, `one-${o.runId}`, 104729);
  const samples: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const body = `{"events":[${src.next().json}]}`;
    const t = now();
    const r = await request(`${o.baseUrl}/admin/usage`, { method: "POST", headers, body });
    if (r.status !== 202) throw new Error(`single event: ${r.status} ${r.body.slice(0, 200)}`);
    if (i >= 20) samples.push(now() - t);
  }
  return summarize(samples);
}

export interface CopyFigures {
  rows: number;
  /** COPY into usage_records as it is: the statement trigger updates every rollup. */
  withRollupsPerSecond: number;
  withRollupsMs: number;
  /** The same rows into a plain copy of the table (same columns and indexes, no trigger). */
  rawPerSecond: number;
  rawMs: number;
}

const COPY_COLUMNS = "request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, total_cost";

/** The reference for the machine: the same kind of rows COPied straight in, in this same run. */
export async function copyReference(pool: pg.Pool, dbUrl: string, o: { rows: number; runId: string; timezone: string; dataset: Pick<DatasetOptions, "accounts" | "keys" | "hotKeys"> }): Promise<CopyFigures> {
  const src = eventSource(o.dataset, `copy-${o.runId}`, 15485863);
  const file = path.join(os.tmpdir(), `ub_bench_copy_${o.runId}.csv`);
  const tzDate = (await pool.query(`SELECT (now() AT TIME ZONE $1)::date::text AS d, extract(hour FROM now() AT TIME ZONE $1)::int AS h`, [o.timezone])).rows[0] as { d: string; h: number };
  const lines: string[] = [];
  for (let i = 0; i < o.rows; i++) {
    const e = JSON.parse(src.next().json) as Record<string, string | number>;
    const total = Number(e.inputTokens) + Number(e.outputTokens) + Number(e.cacheReadTokens);
    lines.push([e.requestId, e.occurredAt, tzDate.d, tzDate.h, e.accountId, e.apiKeyId, e.model, 1, e.inputTokens, e.outputTokens, 0, e.cacheReadTokens, 0, 0, total, e.cost].join(","));
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
  const psqlCopy = (table: string) => {
    const t = now();
    const r = spawnSync("psql", [dbUrl, "-v", "ON_ERROR_STOP=1", "-qc", `\\copy ${table} (${COPY_COLUMNS}) FROM '${file}' WITH (FORMAT csv)`], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`COPY into ${table} failed: ${r.stderr}`);
    return now() - t;
  };
  try {
    await pool.query(`CREATE TABLE bench_copy_target (LIKE usage_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`);
    const rawMs = psqlCopy("bench_copy_target");
    await pool.query(`DROP TABLE bench_copy_target`);
    const withRollupsMs = psqlCopy("usage_records");
    return {
      rows: o.rows,
      withRollupsPerSecond: Math.round(o.rows / (withRollupsMs / 1000)),
      withRollupsMs: Math.round(withRollupsMs),
      rawPerSecond: Math.round(o.rows / (rawMs / 1000)),
      rawMs: Math.round(rawMs),
    };
  } finally {
    fs.rmSync(file, { force: true });
  }
}
