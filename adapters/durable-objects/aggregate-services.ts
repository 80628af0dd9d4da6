import {
  type AnyAggregate,
  type ClientCommand,
  type CommandNameOf,
  Message,
  markAggregateService,
  type ServiceHandler,
  type SyncAggregate,
} from "../../src/index.ts";
import type { AggregateCall, AggregateNamespace, ClientCommandData } from "./rpc.ts";

/** Options of the forwarding services of `aggregateServices`. */
export interface ForwardOptions {
  /** The `rawRequest` field holding the aggregate id. @default "id" */
  readonly idField?: string;
}

/**
 * Router services that forward an aggregate's commands to its Durable Object (the original's
 * `choose_node` forwarding): the Worker prepares the id, and the object named by it runs the command.
 * Same API as the memory host's `onNew` / `on` / `onMaybeNew`.
 *
 * @example
 * import { aggregateServices } from "x3m-system/durable-objects";
 * const accounts = aggregateServices(env.ACCOUNTS, account);
 * const router = defineRouter({ name: "accounts", services: { open: accounts.onNew("open"), deposit: accounts.on("deposit") }, authorize });
 */
export function aggregateServices<TAggregate extends AnyAggregate>(
  namespace: AggregateNamespace,
  aggregate: TAggregate,
) {
  const forward = (
    flow: AggregateCall["flow"],
    command: string,
    idField: string,
    generateIdIfMissing: boolean,
  ): ServiceHandler =>
    // Marked with where it runs, so offline sync can batch a client's commands per object.
    markAggregateService(
      async (message) => {
        const prepared = message.prepareAggregateId(idField, { generateIfMissing: generateIdIfMissing });
        if (prepared.halted) return prepared;
        const stub = namespace.get(namespace.idFromName(prepared.aggregateMeta.id as string) as never);
        const reply = await stub.execute({ flow, command, envelope: prepared.toJSON(), idField, generateIdIfMissing });
        // The object's own answer, over RPC: rebuilt, not validated again.
        return Message.fromTrusted(reply);
      },
      { aggregate: aggregate.name, route: { flow, command, idField, generateIdIfMissing }, key: namespace },
    );
  return {
    /** Creates the aggregate (the id is generated when missing). */
    onNew: (command: CommandNameOf<TAggregate>, { idField = "id" }: ForwardOptions = {}) =>
      forward("onNew", command, idField, true),
    /** Acts on an existing aggregate: `not_found` otherwise. */
    on: (command: CommandNameOf<TAggregate>, { idField = "id" }: ForwardOptions = {}) =>
      forward("on", command, idField, false),
    /** Acts on the aggregate, creating it when it does not exist yet. */
    onMaybeNew: (
      command: CommandNameOf<TAggregate>,
      { idField = "id", generateIdIfMissing = false }: ForwardOptions & { readonly generateIdIfMissing?: boolean } = {},
    ) => forward("onMaybeNew", command, idField, generateIdIfMissing),
    /** The aggregate's state and version, read from its object. */
    state: (aggregateId: string) => namespace.get(namespace.idFromName(aggregateId) as never).state(aggregateId),
    /**
     * A service answering `{ state, version }` (or `not_found`), under the router's authorization and then
     * the aggregate's own `authorize` (in its object, on the state it would show).
     */
    stateService:
      ({ idField = "id" }: ForwardOptions = {}): ServiceHandler =>
      async (message) => {
        const prepared = message.prepareAggregateId(idField);
        if (prepared.halted) return prepared;
        const stub = namespace.get(namespace.idFromName(prepared.aggregateMeta.id as string) as never);
        return Message.fromTrusted(await stub.read({ envelope: prepared.toJSON(), idField }));
      },
  };
}

/**
 * The aggregate objects of `namespace` as offline sync reaches them: a client's commands for one aggregate
 * go to its object in one RPC; changes are read from it. The key is the namespace, as for the services
 * `aggregateServices(namespace, …)` makes.
 *
 * @example
 * import { syncAggregate } from "x3m-system/durable-objects";
 * const accounts = syncAggregate(env.ACCOUNTS);
 */
export function syncAggregate(namespace: AggregateNamespace): SyncAggregate {
  const stub = (id: string) => namespace.get(namespace.idFromName(id) as never);
  const toData = (command: ClientCommand): ClientCommandData =>
    "refusal" in command
      ? command
      : { client: command.client, route: command.route, envelope: command.message.toJSON() };
  return {
    key: namespace,
    runClientCommands: (id, commands) => stub(id).runClientCommands(id, commands.map(toData)),
    changes: (id, request) => stub(id).changes(id, request),
  };
}
