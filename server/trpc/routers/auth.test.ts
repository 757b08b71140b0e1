import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { authTestStores, TEST_ADMIN_PASSWORD, type AuthTestStores } from "../../auth/testing";
import { setRuntime } from "../../runtime";
import { handleTrpcRequest } from "../handler";

vi.mock("server-only", () => ({}));

/**
 * auth.* over the tRPC endpoint, as the console calls it (sign-in, sign-out, the password form and
 * the tokens page): the cookies, the errors the forms show, and what each change ends.
 */

const sameSite = { origin: "http://localhost", "sec-fetch-site": "same-origin" };

function mutate(path: string, input: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return handleTrpcRequest(
    new Request(`http://localhost/api/trpc/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: input === undefined ? "{}" : JSON.stringify(input),
    }),
  );
}

function query(path: string, headers: Record<string, string>): Promise<Response> {
  return handleTrpcRequest(new Request(`http://localhost/api/trpc/${path}`, { headers }));
}

const cookieOf = (res: Response) => (res.headers.getSetCookie().find((c) => c.startsWith("ub_session=")) ?? "").split(";")[0]!;

describe("auth.* for the console", () => {
  let stores: AuthTestStores;
  beforeAll(async () => {
    stores = await authTestStores("postgres+redis", { LOGIN_MAX_FAILURES_PER_USERNAME: "2" });
    setRuntime(stores.runtime);
  });
  afterAll(async () => {
    setRuntime(undefined);
    await stores.close();
  });

  async function signIn(password = TEST_ADMIN_PASSWORD): Promise<string> {
    const res = await mutate("auth.login", { username: "admin", password }, sameSite);
    expect(res.status).toBe(200);
    return cookieOf(res);
  }

  it("a limited sign-in says how long to wait in the error's data, for the login form", async () => {
    const attempt = () => mutate("auth.login", { username: "someone", password: "wrong" }, { ...sameSite, "x-forwarded-for": "198.51.100.7" });
    for (let i = 0; i < 2; i++) expect((await attempt()).status).toBe(401);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    const seconds = Number(limited.headers.get("retry-after"));
    expect(seconds).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: { data: { httpStatus: 429, retryAfterSeconds: seconds } } });
  });

  it("creates, lists and revokes tokens; a bad id is refused naming it", async () => {
    const cookie = await signIn();
    const created = await mutate("auth.tokens.create", { name: "from the console", scope: "usage:read" }, { cookie, ...sameSite });
    expect(created.status).toBe(200);
    const token = ((await created.json()) as { result: { data: { id: string; token: string } } }).result.data;
    expect(token.token).toMatch(/^ubk_/);

    const listed = (await (await query("auth.tokens.list", { cookie })).json()) as { result: { data: { id: string; name: string }[] } };
    expect(listed.result.data).toEqual([expect.objectContaining({ id: token.id, name: "from the console" })]);

    const badId = await mutate("auth.tokens.revoke", { id: "not-a-uuid" }, { cookie, ...sameSite });
    expect(badId.status).toBe(400);
    expect(await badId.json()).toMatchObject({ error: { message: "Invalid input: id: must be a token id (a UUID)" } });
    expect((await mutate("auth.tokens.revoke", { id: token.id }, { cookie, ...sameSite })).status).toBe(200);
    expect((await mutate("auth.tokens.create", { name: "second", scope: "metrics" }, { cookie, ...sameSite })).status).toBe(200);
    const all = await mutate("auth.tokens.revokeAll", undefined, { cookie, ...sameSite });
    expect(await all.json()).toMatchObject({ result: { data: { revoked: 1 } } });
  });

  it("changing the password clears the cookie and ends every session; signing out clears it too", async () => {
    const a = await signIn();
    const b = await signIn();
    const wrong = await mutate("auth.changePassword", { currentPassword: "not it", newPassword: "the next admin password" }, { cookie: a, ...sameSite });
    // The form shows the message as it comes.
    expect(await wrong.json()).toMatchObject({ error: { message: "The current password is incorrect", data: { httpStatus: 400 } } });
    expect((await query("auth.me", { cookie: a })).status).toBe(200);
    const changed = await mutate("auth.changePassword", { currentPassword: TEST_ADMIN_PASSWORD, newPassword: "the next admin password" }, { cookie: a, ...sameSite });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("set-cookie")).toBe("ub_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    for (const cookie of [a, b]) expect((await query("auth.me", { cookie })).status).toBe(401);

    const c = await signIn("the next admin password");
    const out = await mutate("auth.logout", undefined, { cookie: c, ...sameSite });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toBe("ub_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    expect((await query("auth.me", { cookie: c })).status).toBe(401);
  });
});
