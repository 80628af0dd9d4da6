// The ticket handshake is one piece of code for both clients that open a WebSocket to the edge: the edge
// client's transport and the offline client's live channel. These tests hold the live channel to it: the
// ticket URL keeps https and drops the endpoint's query, and a reply without a usable ticket opens nothing.
import { describe, expect, it } from "vitest";
import { createLivePokes } from "../../adapters/indexeddb/live-pokes.ts";
import { defaultTicketUrl, fetchTicket, isSdkClientError, withParam } from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";

// A reply that settles in microtasks (a real `Response` reads its body on later turns), so the virtual clock's
// `advance` sees each step finished.
function jsonReply(body: unknown): Response {
  return { ok: true, status: 200, json: async () => body } as Response;
}

/** A live channel whose ticket requests and sockets are recorded; `ticket` is what the edge answers. */
function liveChannel(url: string, ticket: unknown) {
  const clock = new VirtualClock();
  const ticketRequests: string[] = [];
  const sockets: string[] = [];
  class RecordingSocket extends EventTarget {
    readonly readyState = 0;
    constructor(socketUrl: string) {
      super();
      sockets.push(socketUrl);
    }
    send() {}
    close() {}
  }
  const pokes = createLivePokes({
    live: { url, WebSocket: RecordingSocket as unknown as new (url: string) => WebSocket },
    endpoint: {
      url: "https://edge.test/x3m/sync",
      fetch: (async (input: string) => {
        ticketRequests.push(input);
        return jsonReply({ ticket, expiresAt: 0 });
      }) as typeof fetch,
    },
    clock,
    onPoke() {},
  });
  return { clock, pokes, ticketRequests, sockets };
}

describe("the ticket handshake", () => {
  it("derives the ticket URL over http(s), drops the query, keeps any other protocol", () => {
    expect(defaultTicketUrl("wss://app.test/x3m/ws/?v=2")).toBe("https://app.test/x3m/ws/ticket");
    expect(defaultTicketUrl("ws://app.test/x3m/ws")).toBe("http://app.test/x3m/ws/ticket");
    expect(defaultTicketUrl("https://app.test/x3m/ws")).toBe("https://app.test/x3m/ws/ticket");
    expect(withParam("wss://app.test/x3m/ws?v=2", "ticket", "a b")).toBe("wss://app.test/x3m/ws?v=2&ticket=a+b");
  });

  it.each([[""], [42], [null]])("refuses a reply whose ticket is %j", async (ticket) => {
    const error = await fetchTicket({ fetch: async () => jsonReply({ ticket }) }, "/x3m/ws/ticket").catch((e) => e);
    expect(isSdkClientError(error) && error.code).toBe("NODE_CLOSED");
    expect(String(error.message)).toContain("answered no `ticket`");
  });

  it("the live channel asks the https ticket URL without the endpoint's query", async () => {
    const { clock, pokes, ticketRequests, sockets } = liveChannel("https://edge.test/x3m/ws?v=2", "t-1");
    pokes.start();
    await clock.advance(0);
    expect(ticketRequests).toEqual(["https://edge.test/x3m/ws/ticket"]);
    expect(sockets).toEqual(["https://edge.test/x3m/ws?v=2&ticket=t-1"]);
    pokes.stop();
  });

  it("the live channel opens no socket on an empty ticket, and asks again later", async () => {
    const { clock, pokes, ticketRequests, sockets } = liveChannel("wss://edge.test/x3m/ws", "");
    pokes.start();
    await clock.advance(0);
    expect(ticketRequests).toEqual(["https://edge.test/x3m/ws/ticket"]);
    expect(sockets).toEqual([]);
    await clock.advance(500); // the first retry waits 250-500 ms, the second at least 500 ms more
    expect(ticketRequests).toHaveLength(2);
    expect(sockets).toEqual([]);
    pokes.stop();
  });
});
