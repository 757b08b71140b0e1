import type { Runtime } from "../runtime";
import { AlertEvaluator } from "./evaluator";

/**
 * The alerts' background work of a process with PostgreSQL (the app's server/startup.ts and
 * `npm run worker`): the evaluator, which runs only while this process holds the lease, and the
 * delivery loop, which every process runs (deliveries are claimed row by row).
 */
export interface AlertsBackground {
  evaluator: AlertEvaluator | undefined;
  stop(): Promise<void>;
}

export function startAlertsBackground(runtime: Runtime): AlertsBackground {
  if (!runtime.db) return { evaluator: undefined, stop: async () => {} };
  const evaluator = new AlertEvaluator(runtime);
  evaluator.start();
  return {
    evaluator,
    async stop() {
      await evaluator.stop();
    },
  };
}
