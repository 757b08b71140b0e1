import { route } from "@/server/http/route";

export const GET = route({ scope: "usage:read" }, async ({ principal }) => ({
  data: { kind: principal.kind, name: principal.name, scopes: principal.scopes },
}));
