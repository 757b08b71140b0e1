/** Procedures one batched tRPC request may carry: the server refuses more, the client's batch link sends no more. */
export const MAX_BATCH_SIZE = 20;
