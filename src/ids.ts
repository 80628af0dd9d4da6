import { v7 as uuidv7 } from "uuid";

/** Message ids are UUIDv7: unique, URL-safe and ordered by creation time when compared as strings. */
export function newMessageId(): string {
  return uuidv7();
}

/** Aggregate ids generated for a missing id field (the original uses UUID v4 here too). */
export function newAggregateId(): string {
  return crypto.randomUUID();
}

/** Ids of nodes, services and routers: short, URL-safe, and never a prototype key. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:@/-]{1,200}$/;

/** True when `name` can be used as a node, service or router name. */
export function isValidName(name: unknown): name is string {
  return typeof name === "string" && NAME_PATTERN.test(name) && !FORBIDDEN_KEYS.has(name);
}

/** Keys that must never reach user code from the wire, because merging them pollutes prototypes. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
