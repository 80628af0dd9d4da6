// The edge's live channel: small control frames that travel on the edge's WebSocket next to the transport
// frames (which carry `kind`), told apart by their `live` field. Defined once for both ends.
import * as z from "zod/mini";
import { parseJsonSafely } from "../safe-json.ts";
import { nameSchema } from "../wire-schema.ts";

const streamSchema = z.object({ aggregate: nameSchema, id: z.string().check(z.minLength(1), z.maxLength(200)) });

/**
 * - `hello` (edge → client, first): the edge's limits, so a client refuses a frame too large on its side.
 * - `track` (client → edge): the aggregates this socket wants pokes for (the whole set, replacing the last).
 * - `poke` (edge → client): an aggregate the socket tracks committed events (no data: pull its changes).
 * - `refused` (edge → client): a frame the edge could not accept, with the attempt it belonged to when
 *   it could be read (a reply frame for that attempt is sent too).
 */
export const liveFrameSchema = z.discriminatedUnion("live", [
  z.object({ live: z.literal("hello"), maxFrameBytes: z.int() }),
  z.object({ live: z.literal("track"), aggregates: z.array(streamSchema).check(z.maxLength(10_000)) }),
  z.object({ live: z.literal("poke"), aggregate: z.string(), id: z.string(), version: z.int() }),
  z.object({
    live: z.literal("refused"),
    code: z.string(),
    message: z.string(),
    attemptId: z.optional(z.string()),
    limitBytes: z.optional(z.int()),
  }),
]);

/** A control frame of the edge's live channel (see `liveFrameSchema`). */
export type LiveFrame = z.infer<typeof liveFrameSchema>;

/** Whether `text` is a live control frame (not a transport frame), without parsing all of it. */
export function isLiveFrameText(text: string): boolean {
  return text.startsWith('{"live":');
}

/** Serializes a live frame: `live` first, so `isLiveFrameText` tells it apart at a glance. */
export function encodeLiveFrame(frame: LiveFrame): string {
  const { live, ...rest } = frame;
  return JSON.stringify({ live, ...rest });
}

/** Parses a live frame; `undefined` for anything else (never throws). */
export function decodeLiveFrame(text: string): LiveFrame | undefined {
  try {
    const parsed = liveFrameSchema.safeParse(parseJsonSafely(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
