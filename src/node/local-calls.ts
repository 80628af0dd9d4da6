import { LOCAL } from "../announced.ts";
import { describeError } from "../errors.ts";
import { logTo } from "../logger.ts";
import { Message } from "../message.ts";
import type { LocalService } from "../registry.ts";
import { type NoReply, noReply } from "../router.ts";
import { type ServeContext, type Served, serve } from "../serve.ts";
import type { InFlight } from "./in-flight.ts";
import { type Attempt, raceTimeout } from "./outcome.ts";

/** Whether the reply of an accepted cast's handler is a failure to report (anything but ok/created). */
function castFailed(reply: Message): boolean {
  const status = reply.response?.status;
  return status !== undefined && status !== "ok" && status !== "created";
}

/**
 * Attempts whose provider is this node: the router and handler run here through `serve`. A synchronous
 * chain answers synchronously (no timer, no promise hop); a pending handler races the timeout and counts
 * as in flight until it ends.
 */
export class LocalCalls {
  private readonly context: ServeContext;
  private readonly inFlight: InFlight;

  constructor(context: ServeContext, inFlight: InFlight) {
    this.context = context;
    this.inFlight = inFlight;
  }

  /** Runs `message` on `local`; `noReply` makes the caller wait for the timeout, as in the original. */
  invoke(local: LocalService | undefined, message: Message, timeoutMs: number): Attempt {
    if (!local) return { kind: "failed", reason: "service_gone" };
    const served = serve(local, message, this.context);
    if (served instanceof Message) return { kind: "reply", message: served };
    const pending = served === noReply ? undefined : served;
    if (pending) this.inFlight.begin();
    return raceTimeout(this.context.clock, timeoutMs, (settle, isSettled) => {
      pending?.then(
        (result) => {
          this.inFlight.end();
          if (result === noReply) return;
          if (!isSettled()) return settle({ kind: "reply", message: result });
          this.context.telemetry.emit("late_reply_dropped", {}, { service: message.serviceName, from: LOCAL });
          logTo(
            this.context.logger,
            "debug",
            "late_reply_dropped",
            `${message.serviceName} answered after the timeout`,
            {
              context: message.logContext,
              data: { service: message.serviceName, from: LOCAL, messageId: message.id },
            },
          );
        },
        (error) => {
          this.inFlight.end();
          settle({ kind: "reply", message: message.error({ exception: describeError(error) }) });
        },
      );
    });
  }

  /**
   * Casts to `local`: accepted once its router authorized it, refused with the router's answer otherwise.
   * The handler's outcome is only reported (`cast_failed`), never awaited.
   */
  cast(local: LocalService | undefined, message: Message, timeoutMs: number): Attempt {
    if (!local) return { kind: "failed", reason: "service_gone" };
    let accepted = false;
    let settleLater: ((outcome: { kind: "accepted" }) => void) | undefined;
    const served = serve(local, message, this.context, {
      onAccepted: () => {
        accepted = true;
        settleLater?.({ kind: "accepted" });
      },
    });
    this.reportCast(served, () => accepted);
    if (!(served instanceof Promise)) {
      if (accepted || served === noReply) return { kind: "accepted" };
      return { kind: "reply", message: served };
    }
    if (accepted) return { kind: "accepted" };
    return raceTimeout(this.context.clock, timeoutMs, (settle) => {
      settleLater = settle;
      served.then(
        (result) => settle(accepted || result === noReply ? { kind: "accepted" } : { kind: "reply", message: result }),
        (error) => settle({ kind: "reply", message: message.error({ exception: describeError(error) }) }),
      );
    });
  }

  /** Reports the outcome of an accepted cast (`cast_failed`), and counts it in flight until it ends. */
  reportCast(served: Served, accepted: () => boolean): void {
    const report = (result: Message | NoReply) => {
      if (!(result instanceof Message && accepted() && castFailed(result))) return;
      const { nodeId, telemetry, logger } = this.context;
      const { serviceName: service, response } = result;
      telemetry.emit("cast_failed", {}, { node: nodeId, service, message: result, response });
      logTo(logger, "warn", "cast_failed", `the cast of ${service} failed after it was accepted`, {
        context: result.logContext,
        data: { node: nodeId, service, messageId: result.id, response },
      });
    };
    if (!(served instanceof Promise)) {
      report(served);
      return;
    }
    this.inFlight.begin();
    served.then(
      (result) => {
        this.inFlight.end();
        report(result);
      },
      () => this.inFlight.end(),
    );
  }
}
