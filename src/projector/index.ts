/** The projector: an event log projected into a read model, in order, with its checkpoint kept by a CheckpointStore. */
export {
  type CheckpointApply,
  type CheckpointMove,
  type CheckpointStore,
  type CommitResult,
  checkpointConflict,
} from "./checkpoint-store.ts";
export { createMemoryCheckpointStore } from "./memory-checkpoint-store.ts";
export {
  defineProjector,
  MissedEventError,
  type Projection,
  type Projector,
  type ProjectorLogEntry,
  type ProjectorLogKind,
  type ProjectorOptions,
  type ProjectorStatus,
} from "./projector.ts";
export { defineShardedProjector, type ShardedProjector, type ShardedProjectorOptions } from "./sharded-projector.ts";
