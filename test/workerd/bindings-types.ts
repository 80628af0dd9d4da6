// Type test (compiled by `npm run typecheck`, never run): the binding types a Worker's Env declares are the
// ones the adapter's functions take; a plain namespace is refused.
import {
  type AggregateObjectNamespace,
  aggregateServices,
  type ConnectionObjectNamespace,
  createEdgeWorker,
  type EventStreamObjectNamespace,
  remoteEventSource,
  type SchedulerObjectNamespace,
  schedulerClient,
} from "../../adapters/durable-objects/index.ts";
import { account } from "../fixtures/account.ts";

interface Env {
  ACCOUNTS: AggregateObjectNamespace;
  REMINDERS: SchedulerObjectNamespace;
  CONNECTIONS: ConnectionObjectNamespace;
  STREAM: EventStreamObjectNamespace;
  PLAIN: DurableObjectNamespace;
}

export function wiring(env: Env) {
  const accounts = aggregateServices(env.ACCOUNTS, account);
  const reminders = schedulerClient(env.REMINDERS.get(env.REMINDERS.idFromName("global")));
  const source = remoteEventSource(env.STREAM.get(env.STREAM.idFromName("account")));
  // @ts-expect-error a plain namespace does not say its stubs are aggregate objects
  aggregateServices(env.PLAIN, account);
  const worker = createEdgeWorker<Env>({
    routers: () => [],
    authenticate: () => null,
    connections: (e) => e.CONNECTIONS,
    sync: { aggregates: (e) => ({ account: e.ACCOUNTS }) },
  });
  return { accounts, reminders, source, worker };
}
