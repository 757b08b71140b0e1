import { execFileSync } from "node:child_process";
import net from "node:net";

/**
 * A port nobody listens on now, chosen by the kernel, so that two checkouts can run their servers
 * on one machine at the same time (never a fixed port).
 */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** freePort() for synchronous callers (playwright.config.ts is evaluated synchronously). */
export function freePortSync(): number {
  const script = `const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close();});`;
  return Number(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }));
}
