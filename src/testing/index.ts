/** @module x3m-system/testing: the virtual clock and helpers for testing code built on x3m-system. */
export { VirtualClock } from "./virtual-clock.ts";
