// A dispatch a page starts and keeps pending while the test changes the cluster (closes, crashes or
// drains a tab), then reads with `settled`. Shared by the tab scenarios.
import { Message, type SystemNode } from "../../../src/index.ts";

let pending: Promise<unknown> | undefined;

/** Dispatches `service` from `node`, asking the provider `first` first (long timeout: the test decides). */
export function startDispatch(node: SystemNode, service: string, first: string): true {
  pending = node
    .dispatch(Message.new(service), {
      timeoutMs: 600_000,
      nodeOrder: (providers) => [...providers].sort((p) => (p.node === first ? -1 : 1)),
    })
    .then((reply) => reply.response);
  return true;
}

/** The response of the dispatch `startDispatch` started. */
export const settled = (): Promise<unknown> | undefined => pending;
