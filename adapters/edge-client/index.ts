/**
 * `x3m-system/edge-client`: what a browser, Node (22+) or another Worker needs to reach the edge Worker.
 * Nothing here imports `cloudflare:*` or any other adapter, so it loads in any runtime and bundles for
 * the browser with no externals (`x3m-system/durable-objects` re-exports it for older imports).
 * @module
 */
export {
  type EdgeSocket,
  type EdgeSocketConstructor,
  type EdgeTransportOptions,
  edgeTransport,
} from "./edge-transport.ts";
