import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ChainableCommander, Redis } from "ioredis";

/**
 * A Lua script of server/usage/lua/, read once per process (like db/migrations, from the project
 * folder the process runs in) and run by its SHA-1 with EVALSHA: the source travels only when
 * Redis does not know it yet, i.e. after a restart or SCRIPT FLUSH answered NOSCRIPT, and then
 * once per connection through SCRIPT LOAD.
 */
export const LUA_DIR = path.join(process.cwd(), "server", "usage", "lua");

export class RedisScript {
  readonly source: string;
  readonly sha: string;

  constructor(readonly file: string) {
    this.source = fs.readFileSync(path.join(LUA_DIR, file), "utf8");
    this.sha = crypto.createHash("sha1").update(this.source).digest("hex");
  }

  async load(redis: Redis): Promise<void> {
    const sha = await redis.script("LOAD", this.source);
    if (sha !== this.sha) throw new Error(`SCRIPT LOAD of ${this.file} returned ${String(sha)}, expected ${this.sha}`);
  }

  /** EVALSHA; on NOSCRIPT loads the script and runs it again (it did not run the first time). */
  async run(redis: Redis, keys: string[], argv: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...argv);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      await this.load(redis);
      return redis.evalsha(this.sha, keys.length, ...keys, ...argv);
    }
  }

  /** Queues an EVALSHA in a pipeline; a NOSCRIPT reply means that call did not run (see run()). */
  queue(pipe: ChainableCommander, keys: string[], argv: (string | number)[]): void {
    pipe.evalsha(this.sha, keys.length, ...keys, ...argv);
  }
}

export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("NOSCRIPT");
}
