import type { Clock } from "../clock.ts";
import { describeError, SdkClientError, SdkErrorCode } from "../errors.ts";
import { encodeFrame, type RequestFrame } from "../frames.ts";
import { type Logger, logTo } from "../logger.ts";
import type { Message } from "../message.ts";
import type { Telemetry } from "../telemetry.ts";
import { type Outcome, raceTimeout } from "./outcome.ts";
import type { Peers } from "./peers.ts";

export interface RemoteCallOptions {
  readonly op: RequestFrame["op"];
  readonly timeoutMs: number;
  /** A router's `chooseNode` picked the target: it serves the call without choosing again. */
  readonly forwarded?: boolean;
}

export interface RemoteCallsOptions {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly peers: Peers;
  /** An attempt ended (the drain waits for the last one). */
  readonly onSettled: () => void;
}

interface PendingAttempt {
  readonly node: string;
  readonly op: RequestFrame["op"];
  settle(outcome: Outcome): void;
}

/**
 * This node's requests to peers: each attempt gets an id of its own, waits for its reply (or a cast's
 * `accepted`) at most `timeoutMs`, and fails at once when its peer leaves or this node closes. A reply
 * for an attempt that is no longer waiting, or from another node, is dropped and counted.
 */
export class RemoteCalls {
  private readonly pending = new Map<string, PendingAttempt>();
  private readonly attemptPrefix = crypto.randomUUID().slice(0, 8);
  private attemptCounter = 0;

  private readonly options: RemoteCallsOptions;

  constructor(options: RemoteCallsOptions) {
    this.options = options;
  }

  /** Attempts waiting for an answer. */
  get size(): number {
    return this.pending.size;
  }

  /** Sends `message` to `node` as a request and resolves with how the attempt ended. */
  invoke(node: string, message: Message, call: RemoteCallOptions): Promise<Outcome> {
    const { peers, nodeId, maxFrameBytes } = this.options;
    const connection = peers.connectionOf(node);
    if (!connection) return Promise.resolve({ kind: "failed", reason: "node_unreachable" });
    const attemptId = `${this.attemptPrefix}-${(++this.attemptCounter).toString(36)}`;
    return raceTimeout(this.options.clock, call.timeoutMs, (settle) => {
      this.pending.set(attemptId, { node, op: call.op, settle });
      const frame: RequestFrame = {
        kind: "request",
        from: nodeId,
        attemptId,
        op: call.op,
        envelope: message,
        ...(call.forwarded ? { forwarded: true } : {}),
      };
      let text: string;
      try {
        text = encodeFrame(frame, maxFrameBytes);
      } catch (error) {
        return settle({ kind: "rejected", error: SdkClientError.from(error, SdkErrorCode.INVALID_FRAME) });
      }
      try {
        connection.transport.send(text, node);
      } catch (error) {
        // Over the peer's own frame limit (a transport that knows it, e.g. the edge's): as final as ours.
        if (error instanceof SdkClientError && error.code === SdkErrorCode.FRAME_TOO_LARGE) {
          settle({ kind: "rejected", error });
        } else {
          settle({ kind: "failed", reason: { transportError: describeError(error).message } });
        }
      }
    }).finally(() => {
      this.pending.delete(attemptId);
      this.options.onSettled();
    });
  }

  /** Runs a call a router's `chooseNode` sent to `node` there, and returns its reply (or a `forward_failed` error). */
  async forward(node: string, message: Message, timeoutMs: number): Promise<Message> {
    const outcome = await this.invoke(node, message, { op: "invoke", timeoutMs, forwarded: true });
    if (outcome.kind === "reply") return outcome.message;
    const reason = outcome.kind === "failed" ? outcome.reason : outcome.kind;
    return message.error({ code: "forward_failed", node, reason });
  }

  /** A reply or an acknowledgement arrived: it settles its attempt, if that attempt is still waiting for it. */
  settle(from: string, attemptId: string, outcome: Outcome, envelope?: Message): void {
    const attempt = this.pending.get(attemptId);
    // Only a cast is settled by an acknowledgement: an `accepted` frame cannot end a call awaiting its reply.
    if (!attempt || attempt.node !== from || (outcome.kind === "accepted" && attempt.op !== "cast")) {
      const service = envelope?.serviceName;
      this.options.telemetry.emit("late_reply_dropped", {}, { attemptId, from, service });
      logTo(this.options.logger, "debug", "late_reply_dropped", `dropped an answer from ${from} nobody waits for`, {
        context: envelope?.logContext,
        data: { attemptId, from, service },
      });
      return;
    }
    // At once, not when the attempt's promise has run its course: a copy of this answer arriving in between
    // finds nobody waiting and is counted as dropped.
    this.pending.delete(attemptId);
    attempt.settle(outcome);
  }

  /** Every attempt waiting on `peer` fails with `reason` (it left). */
  failTo(peer: string, reason: string): void {
    for (const attempt of [...this.pending.values()]) {
      if (attempt.node === peer) attempt.settle({ kind: "failed", reason });
    }
  }

  /** Every waiting attempt fails with `reason` (this node closes). */
  failAll(reason: string): void {
    for (const attempt of [...this.pending.values()]) attempt.settle({ kind: "failed", reason });
  }
}
