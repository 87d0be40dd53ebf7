export type { EngineEvents } from '../core/events.ts';
export type { ComponentHealth, Desired, DrainResult, EngineState, RecordedError } from '../core/types.ts';
export type { SentMessage, TopicInfo, PartitionInfo } from '../kafka/client.ts';
export { DEFAULT_MAX_WAIT_MS, DrainEngine, type EngineCollaborators } from './engine.ts';
export { createEngine, type EngineDeps } from './factory.ts';
export type * from './types.ts';
