/**
 * JSON schemas of every request and response. Fastify validates requests with them, serializes responses
 * through them (so a field the engine grows is not leaked by accident) and @fastify/swagger turns them into
 * /openapi.json.
 */

const nullable = (type: string) => ({ type: [type, 'null'] });

export const errorBody = {
  $id: 'ErrorBody',
  type: 'object',
  description: 'The one error shape of the API',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable, machine-readable (e.g. INVALID_BODY, MAINTENANCE)' },
        message: { type: 'string', description: 'What is wrong, for a person' },
      },
    },
  },
} as const;

const errorRef = { $ref: 'ErrorBody#' } as const;

const component = {
  type: 'object',
  required: ['healthy', 'detail'],
  properties: {
    healthy: { type: 'boolean' },
    detail: { type: 'string' },
    missingTopics: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Kafka only: configured topics the broker does not have; the consumer joins once they exist',
    },
    blockedPartitions: {
      type: 'array',
      description:
        'Kafka only: partitions held at a message that failed and could not be dead-lettered; nothing after it is processed until it is',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'offset', 'since', 'reason', 'failures'],
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          offset: { type: 'string' },
          since: { type: 'string', format: 'date-time' },
          reason: { type: 'string' },
          failures: { type: 'integer' },
        },
      },
    },
  },
} as const;

const maintenance = {
  type: 'object',
  required: ['active', 'state', 'since', 'desired', 'mode', 'reason', 'window', 'drain', 'lastDrain'],
  properties: {
    active: {
      type: 'boolean',
      description: 'true while draining, in maintenance or resuming from it, or shutting down',
    },
    state: {
      type: 'string',
      enum: ['running', 'draining', 'maintenance', 'resuming', 'starting', 'joining'],
      description: 'starting and joining (not in the group yet, switch off) are not maintenance',
    },
    since: { type: 'string', format: 'date-time' },
    desired: { type: 'boolean', description: 'Whether the switch asks for maintenance' },
    mode: { type: 'string', enum: ['drain', 'pause'] },
    reason: nullable('string'),
    window: nullable('string'),
    drain: {
      type: ['object', 'null'],
      description: 'Progress of the drain under way (state draining), else null',
      required: ['startedAt', 'elapsedMs', 'timeoutMs', 'inFlight'],
      properties: {
        startedAt: { type: 'string', format: 'date-time' },
        elapsedMs: { type: 'integer' },
        timeoutMs: { type: 'integer' },
        inFlight: { type: 'integer' },
      },
    },
    lastDrain: {
      type: ['object', 'null'],
      required: ['mode', 'durationMs', 'leftInFlight', 'timedOut'],
      properties: {
        mode: { type: 'string', enum: ['drain', 'pause'] },
        durationMs: { type: 'integer' },
        leftInFlight: { type: 'integer' },
        timedOut: { type: 'boolean' },
      },
    },
    invalidSwitch: {
      type: ['object', 'null'],
      description: 'The switch holds a value that is neither on/off nor JSON; the state was kept',
      required: ['raw', 'error', 'at'],
      properties: { raw: { type: 'string' }, error: { type: 'string' }, at: { type: 'string' } },
    },
    shuttingDown: { type: 'boolean' },
  },
} as const;

export const healthResponse = {
  type: 'object',
  description: 'Status of the service, its maintenance state and its dependencies',
  required: ['status', 'maintenance', 'components', 'topics', 'inFlight', 'timestamp'],
  properties: {
    status: {
      type: 'string',
      enum: ['healthy', 'degraded', 'maintenance'],
      description: 'maintenance while not consuming; degraded when Kafka or etcd is unhealthy',
    },
    maintenance,
    components: {
      type: 'object',
      required: ['kafka', 'etcd'],
      properties: { kafka: component, etcd: component },
    },
    topics: { type: 'array', items: { type: 'string' } },
    consumerGroup: { type: 'string' },
    memberId: { type: 'string' },
    maintenanceKey: { type: 'string' },
    inFlight: { type: 'integer' },
    uptimeSeconds: { type: 'number' },
    timestamp: { type: 'string', format: 'date-time' },
  },
} as const;

export const probeResponse = {
  type: 'object',
  description: 'Probe result',
  required: ['status'],
  properties: { status: { type: 'string' }, state: { type: 'string' } },
} as const;

export const sendBody = {
  type: 'object',
  required: ['topic', 'message'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1, description: 'One of the configured KAFKA_TOPICS' },
    message: { type: 'string', description: 'The message value (text; JSON goes in as a string)' },
    key: { type: 'string' },
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Kafka headers; "source: api" and "timestamp" are added unless given',
    },
  },
} as const;

export const sendResponse = {
  type: 'object',
  description: 'Where the message landed',
  required: ['status', 'topic', 'partition', 'offset'],
  properties: {
    status: { type: 'string', enum: ['sent'] },
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'string', description: 'Kafka offset (int64 as a string)' },
  },
} as const;

const kafkaStats = {
  type: 'object',
  required: [
    'received',
    'processed',
    'failed',
    'retried',
    'deadLettered',
    'inFlight',
    'commits',
    'partitions',
    'errors',
  ],
  properties: {
    received: { type: 'integer' },
    processed: { type: 'integer' },
    failed: { type: 'integer', description: 'Messages that failed every attempt (then dead-lettered)' },
    retried: { type: 'integer', description: 'Failed attempts that were retried' },
    deadLettered: { type: 'integer' },
    inFlight: { type: 'integer' },
    commits: { type: 'integer' },
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'committedOffset', 'endOffset', 'lag'],
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          committedOffset: nullable('string'),
          endOffset: nullable('string'),
          lag: nullable('integer'),
        },
      },
    },
    errors: {
      type: 'array',
      description: 'The last 10 errors, oldest first',
      items: {
        type: 'object',
        required: ['at', 'code', 'message'],
        properties: {
          at: { type: 'string', format: 'date-time' },
          code: { type: 'string' },
          message: { type: 'string' },
          topic: { type: 'string' },
          partition: { type: 'integer' },
          offset: { type: 'string' },
        },
      },
    },
  },
} as const;

const statsProperties = {
  kafka: kafkaStats,
  maintenance: {
    type: 'object',
    required: ['active', 'state'],
    properties: { active: { type: 'boolean' }, state: { type: 'string' } },
  },
  timestamp: { type: 'string', format: 'date-time' },
} as const;

export const statsResponse = {
  type: 'object',
  description: 'Processing counters and per-partition offsets',
  required: ['kafka', 'maintenance', 'timestamp'],
  properties: statsProperties,
} as const;

export const statsUnavailableResponse = {
  type: 'object',
  description: 'In maintenance: the error, and the numbers all the same so the drain can be watched',
  required: ['error', 'kafka', 'maintenance', 'timestamp'],
  properties: { error: errorBody.properties.error, ...statsProperties },
} as const;

export const topicsResponse = {
  type: 'object',
  description: 'The configured topics',
  required: ['topics'],
  properties: {
    topics: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'partitions'],
        properties: {
          name: { type: 'string' },
          partitions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['partition', 'leader', 'replicas', 'isr', 'earliestOffset', 'latestOffset'],
              properties: {
                partition: { type: 'integer' },
                leader: { type: 'integer' },
                replicas: { type: 'array', items: { type: 'integer' } },
                isr: { type: 'array', items: { type: 'integer' }, description: 'In-sync replicas' },
                earliestOffset: { type: 'string' },
                latestOffset: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
} as const;

/** Responses every route may give besides its own. */
export const errorResponses = {
  400: { description: 'The request is malformed', ...errorRef },
  500: { description: 'A bug: the service could not answer', ...errorRef },
} as const;

export const unavailable = {
  description: 'In maintenance (or Kafka unreachable): try again after Retry-After seconds',
  ...errorRef,
} as const;

export { errorRef };
