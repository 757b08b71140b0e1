import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../config";

describe("authentication settings", () => {
  it("has defaults: admin, no password, 24 h idle, 7 days absolute, 15 min windows", () => {
    expect(parseConfig({})).toMatchObject({
      adminUsername: "admin",
      adminPassword: undefined,
      sessionIdleTimeoutSeconds: 86400,
      sessionMaxAgeSeconds: 604800,
      loginRateWindowSeconds: 900,
      loginMaxFailuresPerIp: 20,
      loginMaxFailuresPerUsername: 10,
    });
  });

  it("refuses a short ADMIN_PASSWORD without repeating it", () => {
    let err: unknown;
    try {
      parseConfig({ ADMIN_PASSWORD: "hunter2" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe("Invalid configuration:\n  - ADMIN_PASSWORD: ADMIN_PASSWORD must be 12-256 characters long");
  });

  it("refuses an ADMIN_USERNAME with odd characters", () => {
    expect(() => parseConfig({ ADMIN_USERNAME: "ad min" })).toThrow(/ADMIN_USERNAME: ADMIN_USERNAME must be 1-64 characters/);
  });
});
