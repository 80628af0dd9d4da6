import {
  admitClientMessage,
  createAggregateHost,
  createMemoryEventStore,
  createNode,
  defineRouter,
  Message,
  runPush,
} from "../src/index.ts";
import { account } from "./fixtures/account.ts";

const store = createMemoryEventStore();
const host = createAggregateHost(account, { store });
const node = createNode({ announceIntervalMs: 0 });
node.register(
  defineRouter({
    name: "a",
    services: { open_account: host.onNew("open"), deposit: host.on("deposit") },
    authorize: (m) => m.assigns.principal !== undefined,
  }),
);
const context = {
  aggregate: () => host.sync,
  lookup: (s: string) => node.registry.localService(s),
  admit: (e: unknown) => admitClientMessage(e, { principal: { user: "a" }, trustedAssigns: [] }),
  authorizePull: () => true,
};
const clientId = `client-${crypto.randomUUID()}`;
let seq = 0;
const id = "acc";
const cmd = (service: string, rawRequest: Record<string, unknown>) => {
  const m = Message.new(service, { rawRequest });
  return {
    aggregate: "account",
    aggregateId: id,
    seq: ++seq,
    messageId: m.id,
    command: JSON.parse(JSON.stringify(m.toJSON())),
  };
};
await runPush({ protocol: 2, clientId, commands: [cmd("open_account", { id, owner: "a" })] }, context);
const t = performance.now();
let n = 0;
for (let round = 0; round < 100; round++) {
  const commands = Array.from({ length: 200 }, () => cmd("deposit", { id, amount: 1 }));
  const r = await runPush({ protocol: 2, clientId, commands }, context);
  n += r.results.length;
}
console.log(
  `${n} commands in ${(performance.now() - t).toFixed(0)} ms: ${((n / (performance.now() - t)) * 1000).toFixed(0)}/s`,
);
