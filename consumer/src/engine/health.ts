import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { EngineEvents } from '../core/events.ts';
import { OFF, type Machine } from '../core/state-machine.ts';
import type { ComponentHealth, Desired, DrainResult } from '../core/types.ts';
import type { EngineSnapshot } from './types.ts';

/**
 * What the engine knows about the world besides its own state: the reachability of Kafka and etcd, what
 * the switch asks for, the last unparseable switch value and the last drain. The health snapshot is
 * built here from these and the machine.
 */
export class Health {
  readonly #events: EventEmitter<EngineEvents>;
  readonly #log: Logger;
  #desired: Desired = OFF;
  #invalid: EngineSnapshot['invalidSwitch'] = null;
  #kafka: ComponentHealth = { healthy: false, detail: 'not connected yet' };
  #etcd: ComponentHealth = { healthy: false, detail: 'not connected yet' };
  #lastDrain: DrainResult | null = null;
  #drainedAt: string | null = null;

  constructor(events: EventEmitter<EngineEvents>, logger: Logger) {
    this.#events = events;
    this.#log = logger;
  }

  get desired(): Desired {
    return this.#desired;
  }

  get kafka(): ComponentHealth {
    return this.#kafka;
  }

  get drainedAt(): string | null {
    return this.#drainedAt;
  }

  setDesired(d: Desired): void {
    if (JSON.stringify(d) === JSON.stringify(this.#desired)) return;
    this.#desired = d;
    this.#events.emit('desired', d);
  }

  invalidSwitch(raw: string, error: string): void {
    this.#invalid = { raw, error, at: new Date().toISOString() };
    this.#events.emit('invalidSwitch', this.#invalid);
  }

  drained(result: DrainResult): void {
    this.#lastDrain = result;
    this.#drainedAt = new Date().toISOString();
  }

  readonly setKafka = (healthy: boolean, detail: string, missingTopics?: string[]): void => {
    const changed = healthy !== this.#kafka.healthy;
    this.#kafka = missingTopics === undefined ? { healthy, detail } : { healthy, detail, missingTopics };
    if (changed) this.#events.emit('kafkaHealth', this.#kafka);
  };

  /** Returns whether etcd just became reachable again. */
  setEtcd(healthy: boolean, detail: string): boolean {
    const changed = healthy !== this.#etcd.healthy;
    this.#etcd = { healthy, detail };
    if (!changed) return false;
    this.#log[healthy ? 'info' : 'warn']({ detail }, healthy ? 'etcd reachable' : 'etcd unreachable');
    this.#events.emit('etcdHealth', this.#etcd);
    return healthy;
  }

  snapshot(
    m: Machine,
    since: Date,
    inFlight: number,
    topics: string[],
    blocked: NonNullable<ComponentHealth['blockedPartitions']>,
  ): EngineSnapshot {
    // Starting and joining with the switch off are not maintenance; resuming carries no reason either.
    const inMaintenance = m.state === 'draining' || m.state === 'maintenance';
    const kafka = blocked.length === 0 ? this.#kafka : { ...this.#kafka, blockedPartitions: blocked };
    return {
      state: m.state,
      desired: this.#desired,
      mode: m.mode,
      reason: inMaintenance ? this.#desired.reason : null,
      window: inMaintenance ? this.#desired.window : null,
      since: since.toISOString(),
      inFlight,
      lastDrain: this.#lastDrain,
      drainedAt: this.#drainedAt,
      components: { kafka, etcd: this.#etcd },
      invalidSwitch: this.#invalid,
      topics: [...topics],
      stopped: m.stopped,
    };
  }
}
