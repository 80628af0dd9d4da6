import * as z from "zod/mini";
import type { AnnouncedService, TopicSubscription } from "./announced.ts";
import { type Result, SdkClientError, SdkErrorCode } from "./errors.ts";
import { type Message, messageFromWire } from "./message.ts";
import { exceedsBytes, parseJsonSafely } from "./safe-json.ts";
import { idSchema, messageDataSchema, nameSchema } from "./wire-schema.ts";

/** Version of the frame format; a frame with another `v` is rejected. */
export const PROTOCOL_VERSION = 1;

/** Default largest frame a node accepts or sends: 1 MiB of UTF-8. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export type { AnnouncedService } from "./announced.ts";

/** What the sender offers (public services and their topics): sent to each joining peer, on change and periodically. */
export interface AnnounceFrame {
  readonly kind: "announce";
  readonly from: string;
  readonly services: readonly AnnouncedService[];
  /** The node's topic subscriptions (of its public services); absent = none. */
  readonly topics?: readonly TopicSubscription[];
}
/** The sender is leaving (`close`, or the end of a drain): its peers drop its services at once. */
export interface LeaveFrame {
  readonly kind: "leave";
  readonly from: string;
}
/** The sender is draining: choose it no more; it still answers what it already received. */
export interface DrainFrame {
  readonly kind: "drain";
  readonly from: string;
}
/** A `cast` request was authorized and started: the caller stops waiting (no reply follows). */
export interface AcceptedFrame {
  readonly kind: "accepted";
  readonly from: string;
  readonly attemptId: string;
}
/** A call of a service on the receiving node, one attempt of a dispatch, cast or authorization check. */
export interface RequestFrame {
  readonly kind: "request";
  readonly from: string;
  /** Unique per attempt, so a late reply can never satisfy another attempt. */
  readonly attemptId: string;
  /**
   * `invoke` runs the service and replies; `authorize` only asks the router's `authorize`; `cast` runs it
   * and answers `accepted` once authorized and started (or a reply when refused).
   */
  readonly op: "invoke" | "authorize" | "cast";
  /** Set when a router's `chooseNode` forwarded the call: the target serves it without choosing again. */
  readonly forwarded?: boolean;
  readonly envelope: Message;
}
/** The resolved message answering the request with the same `attemptId`. */
export interface ReplyFrame {
  readonly kind: "reply";
  readonly from: string;
  readonly attemptId: string;
  readonly envelope: Message;
}

/** Everything that travels between nodes. */
export type Frame = AnnounceFrame | LeaveFrame | DrainFrame | RequestFrame | ReplyFrame | AcceptedFrame;

const base = { v: z.literal(PROTOCOL_VERSION), from: nameSchema };
const frameSchema = z.discriminatedUnion("kind", [
  z.object({
    ...base,
    kind: z.literal("announce"),
    services: z.array(z.object({ name: nameSchema, router: nameSchema })).check(z.maxLength(10_000)),
    topics: z.optional(z.array(z.object({ topic: nameSchema, service: nameSchema })).check(z.maxLength(10_000))),
  }),
  z.object({ ...base, kind: z.literal("leave") }),
  z.object({ ...base, kind: z.literal("drain") }),
  z.object({ ...base, kind: z.literal("accepted"), attemptId: idSchema }),
  z.object({
    ...base,
    kind: z.literal("request"),
    attemptId: idSchema,
    op: z.enum(["invoke", "authorize", "cast"]),
    forwarded: z.optional(z.boolean()),
    envelope: messageDataSchema,
  }),
  z.object({ ...base, kind: z.literal("reply"), attemptId: idSchema, envelope: messageDataSchema }),
]);

/** Serializes a frame to the JSON text transports carry. Throws `INVALID_FRAME` or `FRAME_TOO_LARGE`. */
export function encodeFrame(frame: Frame, maxBytes = DEFAULT_MAX_FRAME_BYTES): string {
  let text: string;
  try {
    text = JSON.stringify({ v: PROTOCOL_VERSION, ...frame });
  } catch (error) {
    throw new SdkClientError(SdkErrorCode.INVALID_FRAME, "message is not JSON-serializable", { cause: error });
  }
  if (exceedsBytes(text, maxBytes)) {
    throw new SdkClientError(SdkErrorCode.FRAME_TOO_LARGE, `frame is larger than ${maxBytes} bytes`, {
      details: { limitBytes: maxBytes },
    });
  }
  return text;
}

/**
 * Parses and validates a received frame. Never throws: garbage, oversize text, prototype keys and
 * wrong shapes all come back as an `SdkClientError` the node reports and drops.
 */
export function decodeFrame(text: unknown, maxBytes = DEFAULT_MAX_FRAME_BYTES): Result<Frame> {
  try {
    if (typeof text !== "string") throw new SdkClientError(SdkErrorCode.INVALID_FRAME, "frame is not text");
    if (exceedsBytes(text, maxBytes)) {
      throw new SdkClientError(SdkErrorCode.FRAME_TOO_LARGE, `frame is larger than ${maxBytes} bytes`);
    }
    const parsed = frameSchema.safeParse(parseJsonSafely(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join(".") || "(root)";
      throw new SdkClientError(SdkErrorCode.INVALID_FRAME, `invalid frame: ${where}: ${issue?.message ?? "rejected"}`, {
        details: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
      });
    }
    const { v: _version, ...frame } = parsed.data;
    if (frame.kind === "request" || frame.kind === "reply") {
      return { ok: true, value: { ...frame, envelope: messageFromWire(frame.envelope) } as Frame };
    }
    return { ok: true, value: frame };
  } catch (error) {
    return { ok: false, error: SdkClientError.from(error, SdkErrorCode.INVALID_FRAME) };
  }
}
