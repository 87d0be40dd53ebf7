import type { Consumer } from '../consumer.ts';

/** The paths the probes answer, for apps that route before handing a request over. */
export const PROBE_PATHS = ['/livez', '/readyz', '/metrics'] as const;

export interface ProbeReply {
  status: number;
  contentType: string;
  body: string;
}

const json = (status: number, value: unknown): ProbeReply => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify(value),
});

/**
 * The answer to GET /livez, /readyz or /metrics (null for any other path), the same for every server:
 * live while the consumer is not stopped; ready only while it consumes, so Kubernetes takes the pod out
 * of rotation during a drain, a maintenance window and a rejoin; metrics in the Prometheus text format.
 */
export async function probe(
  consumer: Pick<Consumer, 'health' | 'registry'>,
  path: string,
): Promise<ProbeReply | null> {
  switch (path) {
    case '/livez': {
      const h = consumer.health();
      return h.live
        ? json(200, { status: 'ok', state: h.state })
        : json(503, { error: { code: 'STOPPED', message: 'the consumer has stopped' } });
    }
    case '/readyz': {
      const h = consumer.health();
      if (h.ready) return json(200, { status: 'ready', state: h.state });
      return json(503, {
        error: { code: 'NOT_READY', message: `not consuming: state ${h.state} since ${h.since}` },
      });
    }
    case '/metrics':
      return {
        status: 200,
        contentType: consumer.registry.contentType,
        body: await consumer.registry.metrics(),
      };
    default:
      return null;
  }
}
