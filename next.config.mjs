import createNextIntlPlugin from "next-intl/plugin";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants.js";

// next-intl finds the request config (language from the `lang` cookie, messages) here.
const withNextIntl = createNextIntlPlugin("./app/_i18n/request.ts");

/**
 * Security headers of every response (pages and APIs). Without nonces, Next.js's inline scripts
 * need 'unsafe-inline'; 'unsafe-eval' only in `next dev` (React's dev tooling uses eval).
 * See https://nextjs.org/docs/app/guides/content-security-policy#without-nonces
 */
function securityHeaders(dev) {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return [
    { key: "Content-Security-Policy", value: csp },
    { key: "X-Content-Type-Options", value: "nosniff" },
    { key: "Referrer-Policy", value: "same-origin" },
    { key: "X-Frame-Options", value: "DENY" },
    { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
    { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(), payment=(), usb=()" },
  ];
}

/** @type {(phase: string) => import('next').NextConfig} */
export default function nextConfig(phase) {
  return withNextIntl({
    // `next dev` serves its own resources (HMR, chunks) only to these hosts besides localhost;
    // without 127.0.0.1 a page opened as http://127.0.0.1:3000 never hydrates.
    allowedDevOrigins: ["127.0.0.1", "localhost"],
    poweredByHeader: false,
    // .next/standalone: server.js plus the node_modules files it needs, what the Docker image runs
    // (scripts/standalone-pack.sh adds the static assets and the worker).
    output: "standalone",
    // Read from disk at run time relative to the working folder (db/migrator.ts,
    // server/usage/redis-script.ts), so the file tracer cannot see them.
    outputFileTracingIncludes: { "/*": ["./db/migrations/*.sql", "./db/seed.sql", "./server/usage/lua/*.lua"] },
    reactStrictMode: true,
    // Native, WASM or connection-holding packages stay plain Node modules, loaded once per process.
    serverExternalPackages: ["@electric-sql/pglite", "pg", "ioredis", "proper-lockfile", "cli-progress", "@node-rs/argon2"],
    typescript: { ignoreBuildErrors: false },
    experimental: {
      // proxy.ts makes Next.js buffer every request body before any route runs, up to this many
      // bytes (10 MB by default): the API's own limit, DEFAULT_MAX_BODY_BYTES in
      // server/http/limits.ts (server/http/body-guard.test.ts holds them equal). Bodies without
      // credentials, too long or too slow never get here: see server/http/body-guard.ts.
      proxyClientMaxBodySize: 1024 * 1024,
    },
    async headers() {
      return [{ source: "/(.*)", headers: securityHeaders(phase === PHASE_DEVELOPMENT_SERVER) }];
    },
  });
}
