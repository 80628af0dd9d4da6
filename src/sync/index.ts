export { decodeLiveFrame, encodeLiveFrame, isLiveFrameText, type LiveFrame, liveFrameSchema } from "./live.ts";
export {
  type AggregateChanges,
  type ChangesError,
  type ChangesReply,
  type ChangesRequest,
  changesReplySchema,
  changesRequestSchema,
  type PushedCommand,
  type PushReply,
  type PushRequest,
  type PushResult,
  pushReplySchema,
  pushRequestSchema,
  SYNC_LIMITS,
  SYNC_PROTOCOL_VERSION,
  type SyncCursor,
  syncErrorSchema,
} from "./protocol.ts";
export { runChanges, runPush, type SyncServerContext } from "./server.ts";
export { defaultTicketUrl, fetchTicket, type TicketFetch, type TicketRequestOptions, withParam } from "./tickets.ts";
