export * from './engine/index.ts';
export {
  exampleHandler,
  type ConsumedMessage,
  type ExampleHandlerOptions,
  type MessageHandler,
} from './handler.ts';
export { createMetrics, type MetricsOptions, type MetricsSource } from './metrics.ts';
export { withTimeout } from './timeout.ts';
