import {
  createInProcessHub,
  createNode,
  defineRouter,
  type NodeOptions,
  Response,
  type SystemNode,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";

/** The routers of the original's test suite, in TS. */
export const firstRouter = defineRouter({
  name: "first_router",
  privateServices: { private_service: (msg) => msg.ok("from_private") },
  services: {
    first: (msg) => msg.ok("from_first"),
    unauthorized_service: (msg) => msg.ok("never"),
    custom_unauthorized: (msg) => msg.ok("never"),
    admin_only: (msg) => msg.ok("admin"),
    quorum: (msg) => msg.return(Response.tryAnotherNode("quorum_not_met")),
  },
  authorize(msg) {
    switch (msg.serviceName) {
      case "unauthorized_service":
        return false;
      case "custom_unauthorized":
        return { forbidden: "None shall pass!" };
      case "admin_only":
        return (msg.assigns.invokedBy as { admin?: boolean } | undefined)?.admin === true;
      default:
        return true;
    }
  },
});

/** Nodes joined by one in-process hub on one virtual clock; disposed with `await using`. */
export async function createCluster(ids: string[], options: NodeOptions = {}) {
  const clock = new VirtualClock();
  const hub = createInProcessHub();
  const nodes: Record<string, SystemNode> = {};
  for (const id of ids) {
    const node = createNode({ id, clock, announceIntervalMs: 0, ...options });
    await node.connect(hub.transport());
    nodes[id] = node;
  }
  await settle();
  const node = (id: string): SystemNode => {
    const found = nodes[id];
    if (!found) throw new Error(`no node ${id}`);
    return found;
  };
  return {
    clock,
    hub,
    node,
    settle,
    async [Symbol.asyncDispose]() {
      await Promise.all(Object.values(nodes).map((n) => n.close()));
    },
  };
}

/** Lets queued hub deliveries and promise chains run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

/** A promise the test resolves when it chooses: `await gate.opened` inside a handler, `gate.open()` in the test. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
