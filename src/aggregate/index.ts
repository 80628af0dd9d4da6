export { aggregateDenial } from "./authorize.ts";
export {
  type AggregateRoute,
  type AggregateTarget,
  aggregateTargetOf,
  type ClientCommand,
  type ClientCommandResult,
  type ClientCommandStatus,
  markAggregateService,
  type SyncAggregate,
} from "./client-commands.ts";
export { defineAggregate, foldEvents, initialStateOf, runCommand } from "./define-aggregate.ts";
export { type AggregateHost, createAggregateHost, type ServiceOptions } from "./host.ts";
export type {
  AggregateHostOptions,
  LoadedAggregate,
  SaveEventsContext,
  UnloadDecision,
  WhenNotLoadedContext,
} from "./host-options.ts";
export { type Flow, isSuccess, mapResponse } from "./responses.ts";
export type {
  AggregateDefinition,
  AggregateMessage,
  AnyAggregate,
  Command,
  CommandHandler,
  CommandMap,
  CommandNameOf,
  CommandResult,
  CommandValidator,
  DomainEvent,
  EventOf,
  StateOf,
} from "./types.ts";
