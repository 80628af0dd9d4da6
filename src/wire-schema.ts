// zod/mini: the same validator as zod, with a tree-shakable API, so the core bundle stays small.
import * as z from "zod/mini";
import { isValidName } from "./ids.ts";

/** A node, service or router name as accepted from the wire. */
export const nameSchema = z
  .string()
  .check(z.refine(isValidName, { message: "not a valid name ([A-Za-z0-9_.:@/-], 1-200 chars)" }));

/** Message and attempt ids: non-empty, bounded, printable. */
export const idSchema = z.string().check(z.minLength(1), z.maxLength(200));

const issueSchema = z.object({
  message: z.string(),
  path: z.array(z.union([z.string(), z.number()])),
});

/** Wire schema of `Response`: one object per status. */
export const responseSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("ok"), payload: z.optional(z.unknown()), version: z.optional(z.int()) }),
  z.object({ status: z.literal("created"), id: z.string(), version: z.optional(z.int()) }),
  z.object({ status: z.literal("service_unavailable"), service: z.string(), unknown: z.optional(z.literal(true)) }),
  z.object({
    status: z.literal("service_timeout"),
    service: z.string(),
    messageId: z.string(),
    timeoutMs: z.number(),
  }),
  z.object({ status: z.literal("validation_error"), issues: z.array(issueSchema) }),
  z.object({ status: z.literal("missing_id"), field: z.string() }),
  z.object({ status: z.literal("unauthorized"), reason: z.optional(z.string()) }),
  z.object({ status: z.literal("error"), reason: z.unknown(), denied: z.optional(z.literal(true)) }),
  z.object({ status: z.literal("try_another_node"), reason: z.unknown() }),
  z.object({
    status: z.literal("no_nodes_available"),
    tried: z.array(z.object({ node: z.string(), reason: z.unknown() })),
  }),
  z.object({ status: z.literal("not_found") }),
  z.object({ status: z.literal("wrong_expected_version"), expected: z.int(), actual: z.int() }),
  z.object({ status: z.literal("already_exists") }),
]);

const recordSchema = z.record(z.string(), z.unknown());

/**
 * Wire schema of a message envelope. `serviceName` and `id` are required; every other field falls
 * back to the default `Message.new` would give it, so hand-written clients can send less.
 */
export const messageDataSchema = z.object({
  serviceName: nameSchema,
  id: idSchema,
  correlationId: z.optional(idSchema),
  causationId: z.optional(idSchema),
  logContext: z.optional(recordSchema),
  invokedAt: z.optional(z.number()),
  dryRun: z.optional(z.union([z.boolean(), z.literal("verbose")])),
  rawRequest: z.optional(recordSchema),
  request: z.optional(z.unknown()),
  valid: z.optional(z.boolean()),
  assigns: z.optional(recordSchema),
  response: z.optional(z.nullable(responseSchema)),
  events: z.optional(z.array(z.unknown())),
  aggregateMeta: z.optional(z.object({ id: z.optional(z.string()), version: z.optional(z.int()) })),
  originNode: z.optional(z.nullable(nameSchema)),
  halted: z.optional(z.boolean()),
  // W3C: an invalid traceparent is ignored, never an error: `messageFromWire` keeps only a valid one.
  traceparent: z.optional(z.unknown()),
});

export type MessageWireData = z.infer<typeof messageDataSchema>;

/** Turns zod issues into the SDK's JSON-safe `ValidationIssue`s. */
export function toValidationIssues(
  issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }>,
) {
  return issues.map((issue) => ({
    message: issue.message,
    path: (issue.path ?? []).map((segment) => {
      const key = typeof segment === "object" ? segment.key : segment;
      return typeof key === "number" ? key : String(key);
    }),
  }));
}
