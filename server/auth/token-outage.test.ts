import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { createRuntime, type Runtime } from "../runtime";
import { testConfig } from "../testing/stores";
import { startOwnMigratedPostgres, type OwnPostgres } from "../testing/servers";
import { createApiToken, revokeApiToken, verifyApiToken } from "./token.service";

// Found by the fault suite (scripts/faults, scenario 1): with PostgreSQL stopped every Bearer
// request failed with 500, so ingest stopped although Redis alone can take it.
describe("API tokens while PostgreSQL is unreachable", () => {
  let pg: OwnPostgres;
  let runtime: Runtime;
  beforeAll(async () => {
    pg = await startOwnMigratedPostgres();
    runtime = await createRuntime(testConfig({ DATABASE_URL: pg.url, REDIS_URL: undefined }), { ownDatabase: true });
  });
  afterAll(async () => {
    await runtime?.close();
    pg?.destroy();
  });

  it("keeps accepting tokens verified before the outage, answers 503 for others, and forgets revoked ones", async () => {
    const known = await createApiToken(runtime, { name: "relay", scope: "usage:write" });
    const unseen = await createApiToken(runtime, { name: "other", scope: "usage:read" });
    const revoked = await createApiToken(runtime, { name: "old", scope: "usage:write" });
    expect(await verifyApiToken(runtime, known.token)).toMatchObject({ id: known.info.id });
    expect(await verifyApiToken(runtime, revoked.token)).toMatchObject({ id: revoked.info.id });
    await revokeApiToken(runtime, revoked.info.id);

    pg.stop();
    try {
      expect(await verifyApiToken(runtime, known.token)).toMatchObject({ id: known.info.id, scope: "usage:write" });
      for (const token of [unseen.token, revoked.token]) {
        const err = await verifyApiToken(runtime, token).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AppError);
        expect(err).toMatchObject({ code: "UNAVAILABLE", extra: { retryAfterSeconds: 5 } });
      }
      // Past the grace period a remembered token is no longer enough.
      const later = new Date(Date.now() + 16 * 60_000);
      await expect(verifyApiToken(runtime, known.token, later)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      pg.start();
    }
    expect(await verifyApiToken(runtime, revoked.token)).toBeUndefined();
  });
});
