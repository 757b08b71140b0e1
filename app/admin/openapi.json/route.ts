import { route } from "@/server/http/route";
import { getOpenApiDocument } from "@/server/openapi/document";

// The bare document (no envelope), as OpenAPI tools expect it.
export const GET = route({ scope: "usage:read" }, async () => Response.json(getOpenApiDocument()));
