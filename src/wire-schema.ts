import { z } from "zod";
import { isValidName } from "./ids.ts";

/** A node, service or router name as accepted from the wire. */
export const nameSchema = z
  .string()
  .refine(isValidName, { message: "not a valid name ([A-Za-z0-9_.:@/-], 1-200 chars)" });

/** Message and attempt ids: non-empty, bounded, printable. */
export const idSchema = z.string().min(1).max(200);

const issueSchema = z.object({
  message: z.string(),
  path: z.array(z.union([z.string(), z.number()])),
});

/** Wire schema of `Response`: one object per status. */
export const responseSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("ok"), payload: z.unknown().optional(), version: z.number().int().optional() }),
  z.object({ status: z.literal("created"), id: z.string(), version: z.number().int().optional() }),
  z.object({ status: z.literal("service_unavailable"), service: z.string() }),
  z.object({
    status: z.literal("service_timeout"),
    service: z.string(),
    messageId: z.string(),
    timeoutMs: z.number(),
  }),
  z.object({ status: z.literal("validation_error"), issues: z.array(issueSchema) }),
  z.object({ status: z.literal("missing_id"), field: z.string() }),
  z.object({ status: z.literal("unauthorized"), reason: z.string().optional() }),
  z.object({ status: z.literal("error"), reason: z.unknown() }),
  z.object({ status: z.literal("try_another_node"), reason: z.unknown() }),
  z.object({
    status: z.literal("no_nodes_available"),
    tried: z.array(z.object({ node: z.string(), reason: z.unknown() })),
  }),
  z.object({ status: z.literal("not_found") }),
  z.object({ status: z.literal("wrong_expected_version"), expected: z.number().int(), actual: z.number().int() }),
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
  correlationId: idSchema.optional(),
  causationId: idSchema.optional(),
  logContext: recordSchema.optional(),
  invokedAt: z.number().finite().optional(),
  dryRun: z.union([z.boolean(), z.literal("verbose")]).optional(),
  rawRequest: recordSchema.optional(),
  request: z.unknown().optional(),
  valid: z.boolean().optional(),
  assigns: recordSchema.optional(),
  response: responseSchema.nullable().optional(),
  events: z.array(z.unknown()).optional(),
  aggregateMeta: z.object({ id: z.string().optional(), version: z.number().int().optional() }).optional(),
  originNode: nameSchema.nullable().optional(),
  halted: z.boolean().optional(),
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
