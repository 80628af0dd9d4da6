/**
 * `x3m-system/testing`: the virtual clock and helpers for testing code built on x3m-system.
 * @module x3m-system/testing
 */

export {
  aggregateSpec,
  applyEvents,
  commandMessage,
  type Outcome,
  stateFromEvents,
  type When,
} from "./aggregate-spec.ts";
export { alarmStoreContract } from "./alarm-store-contract.ts";
export { checkpointStoreContract } from "./checkpoint-store-contract.ts";
export { eventStoreContract } from "./event-store-contract.ts";
export { type ProjectorSpecOptions, projectorSpec, type SpecEvent } from "./projector-spec.ts";
export { seededRandom } from "./seeded-random.ts";
export { type ContractCase, type TransportFixture, transportContract } from "./transport-contract.ts";
export { VirtualClock } from "./virtual-clock.ts";
