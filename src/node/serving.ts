import { describeError, SdkClientError } from "../errors.ts";
import type { RequestFrame } from "../frames.ts";
import { DRAINING } from "../mesh/drain.ts";
import type { Message } from "../message.ts";
import type { ServiceRegistry } from "../registry.ts";
import { Response } from "../response.ts";
import { type NoReply, noReply } from "../router.ts";
import { type ServeContext, serve } from "../serve.ts";
import type { InFlight } from "./in-flight.ts";
import type { LocalCalls } from "./local-calls.ts";
import type { Connection, Peers } from "./peers.ts";

export interface ServingOptions {
  readonly context: ServeContext;
  readonly registry: ServiceRegistry;
  readonly peers: Peers;
  readonly local: LocalCalls;
  readonly inFlight: InFlight;
  readonly isDraining: () => boolean;
  readonly isClosed: () => boolean;
}

/**
 * The provider side of a peer's request frame: `invoke` runs the service and replies, `cast` acknowledges
 * (`accepted`) once authorized and started, `authorize` only asks the router. Private services are never
 * served to a peer; a draining node sends new work elsewhere (`try_another_node`). A reply that cannot be
 * sent (too large, not serializable) is replaced by an error, so the caller never waits for its timeout.
 */
export class Serving {
  private readonly options: ServingOptions;

  constructor(options: ServingOptions) {
    this.options = options;
  }

  /** Answers `frame`: at once when the service answers synchronously, else when it does (in flight until then). */
  serve(connection: Connection, frame: RequestFrame): void {
    const { inFlight } = this.options;
    inFlight.begin();
    const answered = this.answer(connection, frame);
    if (answered instanceof Promise) answered.finally(() => inFlight.end());
    else inFlight.end();
  }

  private answer(connection: Connection, frame: RequestFrame): void | Promise<void> {
    const { context, registry, peers } = this.options;
    const message = frame.envelope;
    const local = registry.localService(message.serviceName);
    if (this.options.isDraining() && frame.op !== "authorize") {
      // Draining: new work goes elsewhere at once (the caller tries its next provider).
      return this.reply(connection, frame, message.return(Response.tryAnotherNode(DRAINING)));
    }
    if (!local || local.entry.visibility === "private") {
      // Private services are never served to a peer, and answered as if they were not here at all.
      const { serviceName } = message;
      const known = registry.knows(serviceName, "public");
      const response = known ? Response.serviceUnavailable(serviceName) : Response.unknownService(serviceName);
      return this.reply(connection, frame, message.return(response));
    }
    if (frame.op === "authorize") {
      return local.router.authorized(message).then((allowed) => this.reply(connection, frame, message.ok(allowed)));
    }
    let accepted = false;
    const onAccepted =
      frame.op === "cast"
        ? () => {
            accepted = true;
            peers.send(connection, { kind: "accepted", from: context.nodeId, attemptId: frame.attemptId }, frame.from);
          }
        : undefined;
    const served = serve(local, message, context, {
      forwarded: frame.forwarded === true,
      remote: true,
      ...(onAccepted ? { onAccepted } : {}),
    });
    if (onAccepted) this.options.local.reportCast(served, () => accepted);
    // An accepted cast has been answered already (`accepted`); its outcome only goes to telemetry.
    if (served instanceof Promise)
      return served.then((reply) => (accepted ? undefined : this.reply(connection, frame, reply)));
    if (!accepted) this.reply(connection, frame, served);
  }

  /** Sends the reply; one that cannot be sent (too large, not serializable) becomes an error the caller gets. */
  private reply(connection: Connection, frame: RequestFrame, reply: Message | NoReply): void {
    if (reply === noReply || this.options.isClosed()) return;
    const { context, peers } = this.options;
    const answer = (envelope: Message) =>
      ({ kind: "reply", from: context.nodeId, attemptId: frame.attemptId, envelope }) as const;
    try {
      peers.sendOrThrow(connection, answer(reply), frame.from);
    } catch (error) {
      const code = SdkClientError.from(error).code;
      peers.send(connection, answer(frame.envelope.error({ code, message: describeError(error).message })), frame.from);
    }
  }
}
