/**
 * npm run bench:crs — the claude-relay-service figures: the fixture's aged CRS Redis scaled to
 * `--keys` API keys (default 5,000: each of its 12 keys copied with new ids, ~1.3M Redis keys),
 * imported with crs:import (events/s), then the follower's commands per poll at that size. Own
 * redis-server for CRS, own PostgreSQL database, a Redis key prefix of its own. Writes the figures
 * between markers in bench/RESULTS.md and into bench/crs-results.json.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { fixture, writeLikeCrs, type FixtureRequest } from "../../server/crs/crs.fixtures";
import { CrsFollower } from "../../server/crs/follower";
import { CRS_ANCHOR, importScaledCrs } from "./crs-scaled";

const { values } = parseArgs({ options: { keys: { type: "string", default: "5000" } } });
const wantKeys = Number(values.keys);

async function main() {
  const scaled = await importScaledCrs(wantKeys, console.log);
  const { crs, client, runtime } = scaled;
  const { redisKeys, events } = scaled.figures;
  try {
    const followerRedis = new Redis(crs.url);
    const follower = new CrsFollower(runtime, followerRedis, { owner: "bench", now: () => CRS_ANCHOR + 1000, offsetHours: 8 });
    const first = await follower.pollOnce(); // first start: watermarks for every key, metadata sync
    const idle = await follower.pollOnce();
    const requests = fixture<{ requests: FixtureRequest[] }>("requests.json").requests;
    const last = requests.at(-1)!;
    await writeLikeCrs(client, { ...last, occurredAtMs: CRS_ANCHOR + 500, occurredAt: new Date(CRS_ANCHOR + 500).toISOString(), crsRecordJson: last.crsRecordJson.replace(last.occurredAt, new Date(CRS_ANCHOR + 500).toISOString()) });
    const one = await follower.pollOnce();
    const afterOne = await follower.pollOnce();
    const figures = {
      keys: scaled.figures.keys,
      redisKeys,
      importEvents: events,
      importSeconds: scaled.figures.seconds,
      importEventsPerSecond: scaled.figures.eventsPerSecond,
      followerFirstPollCommands: first.commands,
      followerIdlePollCommands: idle.commands,
      followerOneRequestPollCommands: one.commands,
      followerOneRequestEvents: one.events,
      followerKeysChanged: one.keysChanged,
      followerCandidates: one.candidates,
      followerIndexHours: one.indexHours,
      followerNextPollCommands: afterOne.commands,
    };
    console.log(JSON.stringify(figures, null, 2));
    await follower.stop();
    // The follower does not own the client it was given: without this the process never exits.
    followerRedis.disconnect();
    fs.writeFileSync(path.resolve(import.meta.dirname, "../../bench/crs-results.json"), JSON.stringify({ measuredAt: new Date().toISOString(), ...figures }, null, 2) + "\n");
    const md = path.resolve(import.meta.dirname, "../../bench/RESULTS.md");
    const section = [
      "<!-- crs:begin (npm run bench:crs) -->",
      "## claude-relay-service: import and follower",
      "",
      `The fixture's aged CRS Redis scaled to ${figures.keys.toLocaleString("en")} API keys (${redisKeys.toLocaleString("en")} Redis keys; 40 days of records, residual day and month aggregates on 1 key in 12), \`npm run bench:crs\`:`,
      "",
      "| figure | value |",
      "| --- | --- |",
      `| crs:import | ${events.toLocaleString("en")} events in ${figures.importSeconds.toFixed(1)} s = **${figures.importEventsPerSecond.toLocaleString("en")} events/s** (COPY reference in this file: rows/s into usage_records) |`,
      `| follower, poll with nothing new | **${figures.followerIdlePollCommands} command** |`,
      `| follower, poll after 1 request | ${figures.followerOneRequestPollCommands} commands: 1 HGET of the global counter, ${figures.followerIndexHours} hourly key indexes, 1 HGET per key in them (${figures.followerCandidates.toLocaleString("en")}: the scaled fixture copies the anchor hour's active keys), then for the ${figures.followerKeysChanged} changed key its hash, the service rates and its new records; ${figures.followerOneRequestEvents} event |`,
      `| follower, first start (watermarks for every key, metadata) | ${figures.followerFirstPollCommands.toLocaleString("en")} commands, once |`,
      "",
      "<!-- crs:end -->",
    ].join("\n");
    let text = fs.readFileSync(md, "utf8");
    text = /<!-- crs:begin[\s\S]*<!-- crs:end -->/.test(text) ? text.replace(/<!-- crs:begin[\s\S]*<!-- crs:end -->/, section) : `${text.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(md, text);
  } finally {
    await scaled.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
