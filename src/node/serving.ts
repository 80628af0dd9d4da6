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

  /** Answers `frame` (in the background; it counts as in flight until answered). */
  serve(connection: Connection, frame: RequestFrame): void {
    const { inFlight } = this.options;
    inFlight.begin();
    this.answer(connection, frame).finally(() => inFlight.end());
  }

  private async answer(connection: Connection, frame: RequestFrame): Promise<void> {
    const { context, registry, peers } = this.options;
    const message = frame.envelope;
    const local = registry.localService(message.serviceName);
    let reply: Message | NoReply;
    if (this.options.isDraining() && frame.op !== "authorize") {
      // Draining: new work goes elsewhere at once (the caller tries its next provider).
      reply = message.return(Response.tryAnotherNode(DRAINING));
    } else if (!local || local.entry.visibility === "private") {
      // Private services are never served to a peer, and answered as if they were not here at all.
      const { serviceName } = message;
      reply = message.return(
        registry.knows(serviceName, "public")
          ? Response.serviceUnavailable(serviceName)
          : Response.unknownService(serviceName),
      );
    } else if (frame.op === "authorize") {
      reply = message.ok(await local.router.authorized(message));
    } else {
      let accepted = false;
      const onAccepted =
        frame.op === "cast"
          ? () => {
              accepted = true;
              peers.send(
                connection,
                { kind: "accepted", from: context.nodeId, attemptId: frame.attemptId },
                frame.from,
              );
            }
          : undefined;
      const served = serve(local, message, context, {
        forwarded: frame.forwarded === true,
        remote: true,
        ...(onAccepted ? { onAccepted } : {}),
      });
      if (onAccepted) this.options.local.reportCast(served, () => accepted);
      reply = await served;
      // An accepted cast has been answered already (`accepted`); its outcome only goes to telemetry.
      if (accepted) return;
    }
    if (reply === noReply || this.options.isClosed()) return;
    const answer = (envelope: Message) =>
      ({ kind: "reply", from: context.nodeId, attemptId: frame.attemptId, envelope }) as const;
    try {
      peers.sendOrThrow(connection, answer(reply), frame.from);
    } catch (error) {
      const failure = message.error({ code: SdkClientError.from(error).code, message: describeError(error).message });
      peers.send(connection, answer(failure), frame.from);
    }
  }
}
