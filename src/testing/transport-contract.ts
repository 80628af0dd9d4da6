import type { Transport, TransportLink } from "../transport.ts";

/** A set of transports that can reach each other, made fresh for one contract case. */
export interface TransportFixture {
  /** At least three connected-able transports (not yet opened). */
  readonly transports: readonly Transport[];
  /** Releases whatever the fixture holds (channels, sockets, servers). */
  dispose(): Promise<void> | void;
}

/** One case of the transport contract: run it inside any test framework; it throws on failure. */
export interface ContractCase {
  readonly name: string;
  /** Runs the case on a fresh fixture, disposed afterwards; rejects with what the transport got wrong. */
  run(): Promise<void>;
}

interface Endpoint {
  readonly id: string;
  readonly transport: Transport;
  readonly frames: string[];
  readonly joined: Set<string>;
  readonly left: Set<string>;
}

function fail(message: string): never {
  throw new Error(`transport contract: ${message}`);
}

/** Polls `check` until it returns true or `timeoutMs` passes. Real time: transports are real I/O. */
async function eventually(what: string, check: () => boolean, timeoutMs = 2_000): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited >= timeoutMs) fail(`timed out waiting until ${what}`);
    await new Promise<void>((resolve) => setTimeout(() => resolve(), 10));
  }
}

async function quiet(ms = 50): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(() => resolve(), ms));
}

type Trio = [Endpoint, Endpoint, Endpoint];

async function openThree(fixture: TransportFixture): Promise<Trio> {
  if (fixture.transports.length < 3) fail("the fixture must provide three transports");
  const endpoints = fixture.transports.slice(0, 3).map((transport, i) => ({
    id: `contract-${i}`,
    transport,
    frames: [] as string[],
    joined: new Set<string>(),
    left: new Set<string>(),
  }));
  for (const endpoint of endpoints) {
    const link: TransportLink = {
      nodeId: endpoint.id,
      receive: (text) => endpoint.frames.push(text),
      peerJoined: (peer) => endpoint.joined.add(peer),
      peerLeft: (peer) => endpoint.left.add(peer),
    };
    await endpoint.transport.open(link);
  }
  for (const endpoint of endpoints) {
    const others = endpoints.filter((e) => e !== endpoint).map((e) => e.id);
    await eventually(`${endpoint.id} saw its peers join`, () => others.every((id) => endpoint.joined.has(id)));
  }
  return endpoints as Trio;
}

/**
 * The behaviour every `Transport` must have, as framework-agnostic cases. Run them from your test
 * framework with a fixture factory; the in-process hub, BroadcastChannel and edge transports all pass it.
 *
 * @example
 * import { transportContract } from "x3m-system/testing";
 * for (const c of transportContract(() => makeFixture())) it(c.name, () => c.run());
 */
export function transportContract(makeFixture: () => Promise<TransportFixture> | TransportFixture): ContractCase[] {
  const withFixture = (body: (endpoints: Trio) => Promise<void>) => async (): Promise<void> => {
    const fixture = await makeFixture();
    try {
      await body(await openThree(fixture));
    } finally {
      await fixture.dispose();
    }
  };

  return [
    {
      name: "peers that open are reported as joined to each other, never to themselves",
      run: withFixture(async (endpoints) => {
        for (const endpoint of endpoints) {
          if (endpoint.joined.has(endpoint.id)) fail(`${endpoint.id} was told it joined itself`);
        }
      }),
    },
    {
      name: "a frame sent to one peer reaches that peer only, unchanged",
      run: withFixture(async ([a, b, c]) => {
        const text = JSON.stringify({ kind: "probe", body: "ünïcødé ✓ \u2028 line", n: 1 });
        a.transport.send(text, b.id);
        await eventually("b received the frame", () => b.frames.length > 0);
        await quiet();
        if (b.frames[0] !== text) fail("the frame arrived changed");
        if (c.frames.length > 0) fail("a frame addressed to b reached c");
        if (a.frames.length > 0) fail("the sender received its own frame");
      }),
    },
    {
      name: "a frame sent to no one in particular reaches every peer but the sender",
      run: withFixture(async ([a, b, c]) => {
        a.transport.send('{"kind":"broadcast"}');
        await eventually("b and c received the broadcast", () => b.frames.length === 1 && c.frames.length === 1);
        await quiet();
        if (a.frames.length > 0) fail("the sender received its own broadcast");
      }),
    },
    {
      name: "frames from one sender to one peer arrive in the order sent",
      run: withFixture(async ([a, b]) => {
        const sent = Array.from({ length: 50 }, (_, i) => JSON.stringify({ seq: i }));
        for (const text of sent) a.transport.send(text, b.id);
        await eventually("b received all frames", () => b.frames.length === sent.length);
        if (JSON.stringify(b.frames) !== JSON.stringify(sent)) fail("frames arrived out of order");
      }),
    },
    {
      name: "a peer that closes is reported as left, and its transport refuses to send",
      run: withFixture(async ([a, b, c]) => {
        await b.transport.close();
        await eventually("a and c saw b leave", () => a.left.has(b.id) && c.left.has(b.id));
        let threw = false;
        try {
          b.transport.send('{"kind":"after-close"}');
        } catch {
          threw = true;
        }
        if (!threw) fail("send after close did not throw");
        await quiet();
        if (a.frames.length > 0 || c.frames.length > 0) fail("a frame was delivered after close");
      }),
    },
  ];
}
