import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptSecrets, encryptSecrets, SecretsError } from "./secrets";

describe("channel secrets (AES-256-GCM)", () => {
  const key = randomBytes(32);
  const id = "5b0c3a52-0d0e-4a47-9b7c-1f2e3d4c5b6a";
  const plain = JSON.stringify({ url: "https://oapi.dingtalk.com/robot/send?access_token=abc", secret: "SECxyz" });

  it("round-trips, with a fresh IV each time and nothing of the plaintext in the ciphertext", () => {
    const a = encryptSecrets(key, plain, id);
    const b = encryptSecrets(key, plain, id);
    expect(a).not.toBe(b);
    expect(a.split(":")).toHaveLength(4);
    expect(a.startsWith("v1:")).toBe(true);
    expect(decryptSecrets(key, a, id)).toBe(plain);
    expect(decryptSecrets(key, b, id)).toBe(plain);
    expect(a).not.toContain("access_token");
  });

  it("refuses another key, another channel's row, a changed byte and an unknown version", () => {
    const c = encryptSecrets(key, plain, id);
    const fail = (f: () => unknown) => {
      expect(f).toThrow(SecretsError);
    };
    fail(() => decryptSecrets(randomBytes(32), c, id));
    fail(() => decryptSecrets(key, c, "6c1d4b63-1e1f-4b58-8c8d-2a3f4e5d6c7b"));
    const [v, iv, tag, data] = c.split(":") as [string, string, string, string];
    const flipped = Buffer.from(data, "base64");
    flipped[0] = flipped[0]! ^ 1;
    fail(() => decryptSecrets(key, [v, iv, tag, flipped.toString("base64")].join(":"), id));
    fail(() => decryptSecrets(key, ["v2", iv, tag, data].join(":"), id));
    expect(() => decryptSecrets(randomBytes(32), c, id)).toThrow("the channel's secrets cannot be decrypted (was ALERT_SECRETS_KEY changed?)");
  });
});
