/**
 * npm run token:create -- --name relay --scope usage:write
 *
 * Prints the new API token once; only its SHA-256 is stored. Scopes: usage:write, usage:read, metrics (GET /metrics only), admin.
 */
import { parseArgs } from "node:util";
import { createTokenInput } from "../server/auth/schemas";
import { createApiToken } from "../server/auth/token.service";
import { badRequestFromZod } from "../server/errors";
import { openCliRuntime } from "./cli-runtime";

async function main() {
  const { values } = parseArgs({
    options: { name: { type: "string" }, scope: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const parsed = createTokenInput.safeParse({ name: values.name ?? "", scope: values.scope ?? "" });
  if (!parsed.success) {
    throw new Error(`${badRequestFromZod(parsed.error, "option").message}\nUsage: npm run token:create -- --name <name> --scope usage:write|usage:read|metrics|admin`);
  }
  const runtime = await openCliRuntime();
  try {
    const { token, info } = await createApiToken(runtime, parsed.data);
    console.log(`Created API token "${info.name}" (scope ${info.scope}, id ${info.id}). It is shown only this once:\n\n${token}\n`);
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
