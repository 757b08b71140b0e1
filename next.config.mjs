/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // Native, WASM or connection-holding packages stay plain Node modules, loaded once per process.
  serverExternalPackages: ["@electric-sql/pglite", "pg", "ioredis", "proper-lockfile", "cli-progress"],
  typescript: { ignoreBuildErrors: false },
};

export default nextConfig;
