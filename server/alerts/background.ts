import type { Runtime } from "../runtime";
import { DeliveryLoop } from "./delivery.service";
import { AlertEvaluator } from "./evaluator";

/**
 * The alerts' background work of a process with PostgreSQL (the app's server/startup.ts and
 * `npm run worker`): the evaluator, which runs only while this process holds the lease, and the
 * delivery loop, which every process runs (deliveries are claimed row by row).
 */
export interface AlertsBackground {
  evaluator: AlertEvaluator | undefined;
  deliveries: DeliveryLoop | undefined;
  stop(): Promise<void>;
}

export function startAlertsBackground(runtime: Runtime): AlertsBackground {
  if (!runtime.db) return { evaluator: undefined, deliveries: undefined, stop: async () => {} };
  const deliveries = new DeliveryLoop(runtime);
  const evaluator = new AlertEvaluator(runtime, { onQueued: () => deliveries.wake() });
  deliveries.start();
  evaluator.start();
  return {
    evaluator,
    deliveries,
    async stop() {
      await evaluator.stop();
      await deliveries.stop();
    },
  };
}
