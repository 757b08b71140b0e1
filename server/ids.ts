import { z } from "zod";
import { storableText } from "./text";

/**
 * The ids every transport takes, defined once: in paths (/admin/accounts/{id}), bodies, queries
 * and tRPC inputs. Account and API key ids are the relay's own, stored as PostgreSQL text; the
 * ledger refuses an event whose ids are longer (server/usage/schemas.ts, and CRS's mapping), so
 * no read can find a longer one either.
 */
export const MAX_RELAY_ID_LENGTH = 128;

/** An account's or an API key's id (the tRPC deletes take either). */
export const relayId = storableText(MAX_RELAY_ID_LENGTH);
export const accountId = relayId.meta({ description: "Account id, as the relay knows it" });
export const apiKeyId = relayId.meta({ description: "API key id, as the relay knows it" });

/** API tokens are ours: a UUID. */
export const tokenId = z.uuid({ error: "must be a token id (a UUID)" }).meta({ description: "API token id" });
