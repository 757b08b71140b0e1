import http from "node:http";
import type { AddressInfo } from "node:net";
import type { NotificationPayload } from "../notification";

/** A local HTTP receiver for delivery tests: records every request byte for byte and answers as told. */

export interface Received {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Answer = { status: number; body?: string; headers?: Record<string, string> } | "hang";

export interface Receiver {
  /** http://127.0.0.1:<port> (or http://[::1]:<port>). */
  origin: string;
  received: Received[];
  /** TCP connections accepted, answered or not. */
  connections: number;
  close(): Promise<void>;
}

export async function startReceiver(answer: (r: Received, index: number) => Answer = () => ({ status: 200 }), host = "127.0.0.1"): Promise<Receiver> {
  const received: Received[] = [];
  const state = { connections: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(r);
      const a = answer(r, received.length - 1);
      if (a === "hang") return;
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(a.body ?? "");
    });
  });
  server.on("connection", () => state.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    origin: host.includes(":") ? `http://[${host}]:${port}` : `http://${host}:${port}`,
    received,
    get connections() {
      return state.connections;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A firing notification of a budget rule with two accounts (figures chosen to test the formatting). */
export function budgetPayload(): NotificationPayload {
  return {
    kind: "firing",
    rule: {
      id: "5b0c3a52-0d0e-4a47-9b7c-1f2e3d4c5b6a",
      name: "Monthly budget",
      condition: "budget",
      measure: "cost",
      measureKind: "money",
      window: { kind: "month", size: null, from: "2026-11-30T16:00:00.000Z", to: "2026-12-07T06:00:00.000Z" },
    },
    alerts: [
      {
        subjectKind: "account",
        subjectId: "acc-1",
        subjectName: "Claude Max 01",
        value: "1234.565000000",
        threshold: "1200.000000000",
        budget: { name: "Claude pool", amount: "1500.000000000", usedPercent: "82.3", alertPercent: "80" },
        firingSince: "2026-12-07T05:59:30.000Z",
        consoleUrl: "https://usage.example.com/accounts?account=acc-1&range=month",
      },
    ],
    at: "2026-12-07T06:00:00.000Z",
    consoleUrl: "https://usage.example.com/alerts",
  };
}

/** A resolved notification of a rolling 5 h token rule on an API key. */
export function tokensPayload(): NotificationPayload {
  return {
    kind: "resolved",
    rule: {
      id: "6c1d4b63-1e1f-4b58-8c8d-2a3f4e5d6c7b",
      name: "5h tokens",
      condition: "above",
      measure: "allTokens",
      measureKind: "count",
      window: { kind: "hours", size: 5, from: "2026-12-07T01:00:00.000Z", to: "2026-12-07T06:00:00.000Z" },
    },
    alerts: [
      {
        subjectKind: "api_key",
        subjectId: "key-9",
        subjectName: "ci <bot> & co",
        value: "9876543",
        threshold: "10000000",
        firingSince: "2026-12-07T03:10:00.000Z",
        resolvedAt: "2026-12-07T06:00:00.000Z",
        consoleUrl: null,
      },
    ],
    at: "2026-12-07T06:00:00.000Z",
    consoleUrl: null,
  };
}
