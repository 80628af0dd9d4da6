// The user-app reproduction: a bank whose router checks the principal, with the handler a user writes to
// deposit later through a scheduler object, and a service that only succeeds when redelivered.
import { aggregateServices, schedulerClient } from "../../adapters/durable-objects/index.ts";
import { defineRouter, Message } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

export function guardedBankRouter(env: Cloudflare.Env) {
  const accounts = aggregateServices(env.ACCOUNTS, account);
  const deposit = accounts.on("deposit");
  return defineRouter({
    name: "guarded_bank",
    services: {
      guarded_deposit: deposit,
      guarded_deposit_later: async (msg) => {
        const { id, amount, scheduler } = msg.rawRequest;
        const later = Message.causedBy("guarded_deposit", msg, { rawRequest: { id, amount } });
        const stub = env.GUARDED_SCHEDULER.get(env.GUARDED_SCHEDULER.idFromName(String(scheduler)));
        await schedulerClient(stub).schedule(later, { inMs: 0 });
        return msg.ok({ scheduled: later.id });
      },
      guarded_deposit_when_redelivered: (msg) =>
        msg.assigns.redelivered === true ? deposit(msg) : msg.error("first attempt"),
    },
    authorize: (msg) => (msg.assigns.principal as { user?: unknown } | undefined)?.user === "ada",
  });
}
