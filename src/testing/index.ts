/** @module x3m-system/testing: the virtual clock and helpers for testing code built on x3m-system. */

export {
  aggregateSpec,
  applyEvents,
  commandMessage,
  type Outcome,
  stateFromEvents,
  type When,
} from "./aggregate-spec.ts";
export { eventStoreContract } from "./event-store-contract.ts";
export { type ContractCase, type TransportFixture, transportContract } from "./transport-contract.ts";
export { VirtualClock } from "./virtual-clock.ts";
