import { KmaintError } from '@kmaint/common';
import { pino, type Logger } from 'pino';
import { buildApp } from '../../../src/http/app.ts';
import type {
  ApiSendRequest,
  ApiState,
  ApiStats,
  ApiStatus,
  ApiTopic,
  ServicePort,
} from '../../../src/http/port.ts';
import type { SendAccess } from '../../../src/http/send-access.ts';

/** A hand-driven stand-in for the engine: tests set its state and read what was sent. */
export class FakeService implements ServicePort {
  state: ApiState = 'running';
  since = '2026-11-27T10:00:00.000Z';
  inFlight = 0;
  reason: string | null = null;
  shuttingDown = false;
  kafkaHealthy = true;
  sent: ApiSendRequest[] = [];
  sendError: Error | null = null;
  counters = { received: 7, processed: 5, failed: 1, retried: 1, deadLettered: 0, commits: 3 };

  status(): ApiStatus {
    return {
      state: this.state,
      since: this.since,
      desired: {
        maintenance: this.state === 'draining' || this.state === 'maintenance',
        mode: 'drain',
        reason: this.reason,
        window: null,
      },
      inFlight: this.inFlight,
      drainTimeoutMs: 45_000,
      lastDrain: null,
      components: {
        kafka: { healthy: this.kafkaHealthy, detail: this.kafkaHealthy ? 'connected' : 'broker down' },
        etcd: { healthy: true, detail: 'watching' },
      },
      invalidSwitch: null,
      shuttingDown: this.shuttingDown,
    };
  }

  async stats(): Promise<ApiStats> {
    return {
      ...this.counters,
      inFlight: this.inFlight,
      partitions: [{ topic: 'test-topic', partition: 0, committedOffset: '5', endOffset: '7', lag: 2 }],
      errors: [
        { at: '2026-11-27T10:00:01.000Z', code: 'HANDLER_FAILED', message: 'boom', topic: 'test-topic' },
      ],
    };
  }

  async send(request: ApiSendRequest) {
    if (this.sendError) throw this.sendError;
    this.sent.push(request);
    return { topic: request.topic, partition: 0, offset: String(this.sent.length - 1) };
  }

  async topicsInfo(): Promise<ApiTopic[]> {
    return [
      {
        name: 'test-topic',
        partitions: [
          { partition: 0, leader: 1, replicas: [1], isr: [1], earliestOffset: '0', latestOffset: '7' },
        ],
      },
    ];
  }
}

export const TOPICS = ['test-topic', 'user-events', 'system-logs'];

export async function appWith(
  service: ServicePort,
  bodyLimit?: number,
  extra: { sendAccess?: SendAccess; logger?: Logger } = {},
) {
  return buildApp({
    service,
    topics: TOPICS,
    consumerGroup: 'gomaint-consumer-group',
    memberId: 'pod-0',
    maintenanceKey: '/maintenance/kafka-service',
    metrics: { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => 'up 1\n' },
    logger: extra.logger ?? pino({ level: 'silent' }),
    ...(extra.sendAccess === undefined ? {} : { sendAccess: extra.sendAccess }),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
  });
}

export const unavailable = () => new KmaintError('KAFKA_UNAVAILABLE', 'no broker', { retriable: true });
