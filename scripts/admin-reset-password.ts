/**
 * npm run admin:reset-password                         prompts for the new password (hidden)
 * npm run admin:reset-password -- --password <value>   (visible in the shell history: prefer the prompt)
 * npm run admin:reset-password -- --generate           generates one and prints it once
 *
 * Sets the password of ADMIN_USERNAME and signs every session out. From then on ADMIN_PASSWORD is
 * ignored (the password set here takes precedence).
 */
import readline from "node:readline";
import { parseArgs } from "node:util";
import { setPassword } from "../server/auth/admin.service";
import { newPassword } from "../server/auth/schemas";
import { generatePassword } from "../server/auth/secrets";
import { openCliRuntime } from "./cli-runtime";

function promptHidden(question: string): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  let muted = false;
  // readline has no hidden mode: drop its echo of what is typed (the prompt is written before).
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s) => {
    if (!muted) process.stdout.write(s);
  };
  const answer = new Promise<string>((resolve) =>
    rl.question(question, (a) => {
      rl.close();
      process.stdout.write("\n");
      resolve(a);
    }),
  );
  muted = true;
  return answer;
}

async function main() {
  const { values } = parseArgs({
    options: { password: { type: "string" }, generate: { type: "boolean", default: false } },
    strict: true,
    allowPositionals: false,
  });
  let password: string;
  if (values.generate) {
    if (values.password !== undefined) throw new Error("Give either --password or --generate, not both");
    password = generatePassword();
  } else if (values.password !== undefined) {
    password = values.password;
  } else {
    if (!process.stdin.isTTY) throw new Error("No terminal to prompt on: pass --password <value> or --generate");
    password = await promptHidden("New admin password: ");
    if ((await promptHidden("Repeat it: ")) !== password) throw new Error("The two passwords differ; nothing was changed");
  }
  const checked = newPassword.safeParse(password);
  if (!checked.success) throw new Error(`The password ${checked.error.issues[0]?.message ?? "is not acceptable"}; nothing was changed`);

  const runtime = await openCliRuntime();
  try {
    const username = runtime.config.adminUsername;
    await setPassword(runtime, username, password, "set");
    console.log(`Password of "${username}" changed; every session was signed out.`);
    if (values.generate) console.log(`New password (shown only this once): ${password}`);
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
