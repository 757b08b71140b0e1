import { endSilence } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

/** Ends the silence now rather than deleting it: the list keeps it, ended. */
export const DELETE = route(ROUTES["DELETE /admin/alerts/silences/{id}"], async ({ runtime, params }) => ({ data: await endSilence(runtime, params) }));
