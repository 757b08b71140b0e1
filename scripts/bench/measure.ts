import http from "node:http";

/** Latency samples and the figures the report shows. */
export interface Latency {
  runs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarize(samplesMs: number[]): Latency {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN);
  const r = (n: number) => Math.round(n * 100) / 100;
  return { runs: s.length, p50Ms: r(at(0.5)), p95Ms: r(at(0.95)), p99Ms: r(at(0.99)), maxMs: r(s[s.length - 1] ?? NaN) };
}

export const now = () => performance.now();

/**
 * Times fn `runs` times after `warmup` unmeasured calls. `budgetMs` bounds the slow baseline: it
 * stops early once at least `minRuns` ran and the budget is spent (the report shows the count).
 */
export async function timeRuns(
  fn: () => Promise<unknown>,
  opts: { runs: number; warmup?: number; budgetMs?: number; minRuns?: number },
): Promise<Latency> {
  for (let i = 0; i < (opts.warmup ?? 3); i++) await fn();
  const samples: number[] = [];
  const started = now();
  for (let i = 0; i < opts.runs; i++) {
    const t = now();
    await fn();
    samples.push(now() - t);
    if (opts.budgetMs && samples.length >= (opts.minRuns ?? 5) && now() - started > opts.budgetMs) break;
  }
  return summarize(samples);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A small keep-alive HTTP client: fetch costs more client CPU, which this 2-core machine lacks. */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export async function requestOk(url: string, opts: Parameters<typeof request>[1] = {}): Promise<HttpResult> {
  const r = await request(url, opts);
  if (r.status < 200 || r.status >= 300) throw new Error(`${opts.method ?? "GET"} ${url} → ${r.status}: ${r.body.slice(0, 300)}`);
  return r;
}

export function closeHttp(): void {
  agent.destroy();
}
