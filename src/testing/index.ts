/** @module x3m-system/testing: the virtual clock and helpers for testing code built on x3m-system. */

export { type ContractCase, type TransportFixture, transportContract } from "./transport-contract.ts";
export { VirtualClock } from "./virtual-clock.ts";
