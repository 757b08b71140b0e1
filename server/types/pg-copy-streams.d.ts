/** pg-copy-streams 7 ships no types: the one function db/client.ts uses (COPY … FROM STDIN as a Writable that pg's client.query submits). */
declare module "pg-copy-streams" {
  import type { Writable } from "node:stream";
  import type { Submittable } from "pg";
  export interface CopyStreamQuery extends Writable, Submittable {
    /** Rows COPY took, once the stream finished. */
    rowCount: number;
  }
  export function from(text: string): CopyStreamQuery;
}
