// `npm start`: three in-process nodes on one hub, each offering services, dispatching to each other.
// (The edge + browser playground replaces this once the Durable Objects and browser adapters land.)
import { createInProcessHub, createNode, defineRouter, Message, Response } from "../src/index.ts";

const hub = createInProcessHub();
const [web, billing, inventory] = ["web", "billing", "inventory"].map((id) =>
  createNode({ id, announceIntervalMs: 0 }),
) as [ReturnType<typeof createNode>, ReturnType<typeof createNode>, ReturnType<typeof createNode>];

billing.register(
  defineRouter({
    name: "billing",
    services: {
      charge: (msg) => msg.ok({ charged: msg.rawRequest.amount, by: "billing" }),
      refund: (msg) => msg.return(Response.tryAnotherNode("refunds are paused here")),
    },
    privateServices: { ledger: (msg) => msg.ok("only billing can read this") },
    authorize: (msg) => msg.assigns.user !== undefined || "login required",
  }),
);
inventory.register(
  defineRouter({
    name: "inventory",
    services: {
      reserve: (msg) => msg.ok({ reserved: msg.rawRequest.sku, by: "inventory" }),
      refund: (msg) => msg.ok({ refunded: true, by: "inventory" }),
    },
    authorize: () => true,
  }),
);

for (const node of [web, billing, inventory]) await node.connect(hub.transport());
await new Promise((resolve) => setTimeout(resolve, 10)); // let the announcements cross the hub

const calls: Array<[string, Message]> = [
  ["reserve a book", Message.new("reserve", { rawRequest: { sku: "book-42" } })],
  ["charge, logged in", Message.new("charge", { rawRequest: { amount: 12 } }).assign("user", "ada")],
  ["charge, anonymous", Message.new("charge", { rawRequest: { amount: 12 } })],
  ["refund (billing asks for another node)", Message.new("refund").assign("user", "ada")],
  ["billing's private ledger", Message.new("ledger").assign("user", "ada")],
  ["a service nobody offers", Message.new("teleport")],
];

console.log(
  `nodes: ${[web, billing, inventory].map((n) => `${n.id} (${n.registry.publicServices().length} public services)`).join(", ")}\n`,
);
for (const [label, msg] of calls) {
  const reply = await web.dispatch(msg, { timeoutMs: 1_000 });
  console.log(`web → ${msg.serviceName.padEnd(8)} ${label.padEnd(40)} ${JSON.stringify(reply.response)}`);
}
const validated = await web.validate(Message.new("reserve", { rawRequest: { sku: "pen" } }));
console.log(`\nvalidate (dry run): dryRun=${validated.dryRun} ${JSON.stringify(validated.response)}`);
console.log(`authorized? charge anonymous: ${await web.authorized(Message.new("charge"))}`);

await Promise.all([web, billing, inventory].map((node) => node.close()));
