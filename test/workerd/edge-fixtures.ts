// What the WebSocket tests need from the suite's edge Worker: a public and a private service, an
// assigns-echo, services forwarding to aggregate objects, and one the edge forwards to the client.
import { aggregateServices, type Principal } from "../../adapters/durable-objects/index.ts";
import { defineRouter } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

/**
 * `Authorization: Bearer`, or the `token` query parameter on a WebSocket upgrade only (the suite's raw
 * sockets; browsers use tickets): "good" is Ada, "bob" Bob, "boom" throws. A token in any other URL is
 * ignored, so it is never accepted where it would be logged.
 */
export function authenticateTestToken(request: Request): Principal | null {
  const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
  const token =
    (upgrade ? new URL(request.url).searchParams.get("token") : null) ??
    request.headers.get("authorization")?.replace(/^Bearer /, "");
  if (token === "boom") throw new Error("auth backend down");
  if (token === "bob") return { user: "bob" };
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
