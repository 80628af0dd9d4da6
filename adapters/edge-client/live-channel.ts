import {
  decodeLiveFrame,
  describeError,
  encodeLiveFrame,
  exceedsBytes,
  type LogLevel,
  SdkClientError,
  SdkErrorCode,
} from "../../src/index.ts";
import { type EdgeSocket, OPEN } from "./edge-socket.ts";

/** An aggregate instance a client wants pokes for. */
export interface TrackedAggregate {
  /** The aggregate type, as the edge's `sync.aggregates` names it (`"account"`). */
  readonly aggregate: string;
  /** The aggregate's id. */
  readonly id: string;
}

/** Writes one log entry (the transport's logger, never throwing). @internal */
export type Log = (level: LogLevel, event: string, message: string, data?: Record<string, unknown>) => void;

/** `track`'s frame, validated as the edge will validate it. */
function trackFrame(aggregates: readonly TrackedAggregate[]): string {
  const text = encodeLiveFrame({
    live: "track",
    aggregates: aggregates.map(({ aggregate, id }) => ({ aggregate, id })),
  });
  if (!decodeLiveFrame(text)) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      "track: each entry needs an `aggregate` name ([A-Za-z0-9_.:@/-], 1-200 chars) and an `id` (1-200 chars), at most 10,000 entries",
    );
  }
  return text;
}

/**
 * The client's side of the edge's live channel, the control frames next to the transport frames: the
 * edge's `hello` (its frame limit, per connection), the aggregates this client tracks (sent after each
 * hello and when they change), its `poke`s and `refused` frames. None of them ever reaches the node.
 * @internal
 */
export function liveChannel(options: {
  readonly onPoke?: ((aggregate: string, id: string, version: number) => void) | undefined;
  readonly log: Log;
}) {
  const { log } = options;
  // Per connection: whether the edge said hello, and the frame limit it said.
  let greeted = false;
  let limit: number | undefined;
  // `track`'s last set, as its frame ("" for none).
  let tracked = "";

  /** Throws `FRAME_TOO_LARGE` (with `limitBytes`) for `text` over the edge's limit, once it is known. */
  const checkSize = (text: string, what: string): void => {
    if (limit === undefined || !exceedsBytes(text, limit)) return;
    throw new SdkClientError(SdkErrorCode.FRAME_TOO_LARGE, `${what} is larger than ${limit} bytes (the edge's limit)`, {
      details: { limitBytes: limit },
    });
  };

  const hello = (socket: EdgeSocket, maxFrameBytes: number): void => {
    greeted = true;
    if (maxFrameBytes > 0) limit = maxFrameBytes;
    // A new connection tracks nothing on the edge yet.
    if (tracked === "" || socket.readyState !== OPEN) return;
    try {
      checkSize(tracked, "the tracked set");
      socket.send(tracked);
    } catch (error) {
      log("warn", "edge_track_not_sent", `could not send the tracked set: ${describeError(error).message}`);
    }
  };

  return {
    checkSize,

    /** A new connection: nothing is known of it until its hello. */
    reset(): void {
      greeted = false;
      limit = undefined;
    },

    /** A control frame from the edge on `socket`. */
    receive(socket: EdgeSocket, text: string): void {
      const frame = decodeLiveFrame(text);
      if (frame?.live === "hello") {
        hello(socket, frame.maxFrameBytes);
      } else if (frame?.live === "poke") {
        try {
          options.onPoke?.(frame.aggregate, frame.id, frame.version);
        } catch (error) {
          log("error", "edge_poke_failed", `onPoke threw: ${describeError(error).message}`, {
            aggregate: frame.aggregate,
            id: frame.id,
          });
        }
      } else if (frame?.live === "refused") {
        // Reported here, once; the attempt it names is answered by the error reply the edge sends with it.
        const { code, message, attemptId, limitBytes } = frame;
        log("warn", "edge_refused_frame", `the edge refused a frame: ${code}: ${message}`, {
          code,
          ...(attemptId === undefined ? {} : { attemptId }),
          ...(limitBytes === undefined ? {} : { limitBytes }),
        });
      }
      // Anything else (`pong`, a control frame this client does not know) is dropped quietly.
    },

    /** `EdgeTransport.track`: `socket` is the current connection, if any. */
    track(socket: EdgeSocket | undefined, aggregates: readonly TrackedAggregate[]): void {
      const text = aggregates.length === 0 ? "" : trackFrame(aggregates);
      checkSize(text, "the tracked set");
      if (text === tracked) return;
      tracked = text;
      // Not connected, or before the hello: sent when the edge says hello.
      if (socket?.readyState !== OPEN || !greeted) return;
      socket.send(text === "" ? encodeLiveFrame({ live: "track", aggregates: [] }) : text);
    },
  };
}
