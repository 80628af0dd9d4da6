// What the WebSocket tests need from the suite's edge Worker: a public and a private service, an
// assigns-echo, services forwarding to aggregate objects, and one the edge forwards to the client.
import { aggregateServices, type Principal } from "../../adapters/durable-objects/index.ts";
import { defineRouter } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

/** `token` query parameter (browsers' WebSockets) or `Authorization: Bearer`: "good" is Ada, "boom" throws. */
export function authenticateTestToken(request: Request): Principal | null {
  const token =
    new URL(request.url).searchParams.get("token") ?? request.headers.get("authorization")?.replace(/^Bearer /, "");
  if (token === "boom") throw new Error("auth backend down");
  return token === "good" ? { user: "ada" } : null;
}

/** The edge services the WebSocket tests call. */
export function websocketTestRouter(env: Cloudflare.Env) {
  const accounts = aggregateServices(env.ACCOUNTS, account);
  return defineRouter({
    name: "ws_tests",
    services: {
      ws_open_account: accounts.onNew("open"),
      ws_deposit: accounts.on("deposit"),
      ws_echo_assigns: (msg) => msg.ok({ assigns: msg.assigns, events: msg.events.length }),
      ws_slow: async (msg) => {
        await new Promise((resolve) => setTimeout(resolve, Number(msg.rawRequest.ms ?? 0)));
        return msg.ok("slow done");
      },
      // Served by the client when `rawRequest.via` names it: the edge's router forwards the call there.
      ws_ask_client: (msg) => msg.ok("the edge answered itself"),
    },
    privateServices: { ws_secret: (msg) => msg.ok("private: edge-internal only") },
    authorize: (msg) => msg.assigns.principal !== undefined,
    chooseNode: (msg) => (typeof msg.rawRequest.via === "string" ? msg.rawRequest.via : "local"),
  });
}
