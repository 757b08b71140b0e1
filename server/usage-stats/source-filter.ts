/**
 * The account list's `source` filter. A source name is the one server/sources/ gives a relay
 * (`crs`, SUB2API_SOURCE …: the grammar of SUB2API_SOURCE in server/config.ts, which refuses
 * `none`); `none` asks for the accounts no relay fed (entered through the REST API only). No
 * runtime imports: the console's URL state bundles it for the browser.
 */
export const NO_SOURCE = "none";
export const SOURCE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** At most this many distinct sources are offered as the filter's choices (availableSources). */
export const MAX_AVAILABLE_SOURCES = 100;
