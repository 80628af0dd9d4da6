/**
 * Tabs tell each other "look again" over a BroadcastChannel: a doorbell, never the data. IndexedDB has
 * no change events, and a message can be missed (frozen tab, late listener), so receivers always
 * re-read the store: a message is a hint, the store is the truth.
 */
export type Ring = "outbox" | "synced";

export interface Doorbell {
  ring(what: Ring): void;
  close(): void;
}

/** Opens the doorbell of one database; `onRing` runs for rings from other tabs (never our own). */
export function openDoorbell(
  name: string,
  onRing: (what: Ring) => void,
  Channel: (new (name: string) => BroadcastChannel) | undefined = globalThis.BroadcastChannel,
): Doorbell {
  if (!Channel) return { ring() {}, close() {} };
  const channel = new Channel(`x3m-system:sync:${name}`);
  channel.addEventListener("message", (event: MessageEvent) => {
    const what = (event.data as { ring?: unknown } | null)?.ring;
    if (what === "outbox" || what === "synced") onRing(what);
  });
  let closed = false;
  return {
    ring(what) {
      if (!closed) channel.postMessage({ ring: what });
    },
    close() {
      closed = true;
      channel.close();
    },
  };
}
