/**
 * The largest request body the API reads (1 MiB), in a module of its own so that the Node-level
 * body guard and the tests can use it without the REST wrapper's imports. next.config.mjs repeats
 * the number as the proxy's buffer limit (a test holds the two equal).
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
