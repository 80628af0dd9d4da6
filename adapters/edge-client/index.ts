/**
 * `x3m-system/edge-client`: what a browser, Node (22+) or another Worker needs to reach the edge Worker.
 * Nothing here imports `cloudflare:*` or any other adapter, so it loads in any runtime and bundles for
 * the browser with no externals (`x3m-system/durable-objects` re-exports it for older imports).
 * @module
 */
export type { EdgeTicketOptions } from "./connect-url.ts";
export type { EdgeSocket, EdgeSocketConstructor } from "./edge-socket.ts";
export { type EdgeTransport, type EdgeTransportOptions, edgeTransport } from "./edge-transport.ts";
export type { TrackedAggregate } from "./live-channel.ts";
