// vitest runs server modules outside React Server Components; "server-only" guards nothing there.
export {};
