export { defineAggregate, foldEvents, initialStateOf, runCommand } from "./define-aggregate.ts";
export { type AggregateHost, createAggregateHost, type ServiceOptions } from "./host.ts";
export type {
  AggregateHostOptions,
  LoadedAggregate,
  SaveEventsContext,
  UnloadDecision,
  WhenNotLoadedContext,
} from "./host-options.ts";
export { type Flow as CommandFlow, mapResponse } from "./responses.ts";
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
