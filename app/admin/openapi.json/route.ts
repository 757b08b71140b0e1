import { getOpenApiDocument } from "@/server/openapi/document";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

// The bare document (no envelope), as OpenAPI tools expect it.
export const GET = route(ROUTES["GET /admin/openapi.json"], async () => Response.json(getOpenApiDocument()));
