import type { RedisClient } from "../redis";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ChainableCommander } from "ioredis";

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

  /**
   * EVALSHA; on NOSCRIPT (it did not run) EVAL with the source, which runs it and caches it on the
   * node that serves the keys — on a cluster SCRIPT LOAD would reach one arbitrary node.
   */
  async run(redis: RedisClient, keys: string[], argv: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...argv);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...argv);
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
