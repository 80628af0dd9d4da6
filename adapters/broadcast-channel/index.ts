/**
 * `x3m-system/broadcast-channel`: browser tabs (and workers) of one origin as nodes of one cluster.
 * @module x3m-system/broadcast-channel
 */
export {
  type BroadcastChannelLike,
  type BroadcastChannelTransportOptions,
  broadcastChannelTransport,
} from "./broadcast-channel-transport.ts";
