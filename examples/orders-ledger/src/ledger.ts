import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Order } from './order.ts';

/** Where an order was read from: kept with it, so a ledger row can be traced back to its message. */
export interface Source {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * The ledger: one row per order id in a SQLite database. Writing is an upsert by id, so a message that
 * is delivered again (Kafka delivers at least once) leaves the ledger as it was.
 */
export class Ledger {
  readonly #db: DatabaseSync;
  readonly #upsert: StatementSync;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS orders (
        id TEXT PRIMARY KEY,
        customer TEXT NOT NULL,
        amount_cents INTEGER NOT NULL,
        currency TEXT NOT NULL,
        source_topic TEXT NOT NULL,
        source_partition INTEGER NOT NULL,
        source_offset TEXT NOT NULL
      ) STRICT;
    `);
    this.#upsert = this.#db.prepare(`
      INSERT INTO orders (id, customer, amount_cents, currency, source_topic, source_partition, source_offset)
      VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        customer = excluded.customer,
        amount_cents = excluded.amount_cents,
        currency = excluded.currency,
        source_topic = excluded.source_topic,
        source_partition = excluded.source_partition,
        source_offset = excluded.source_offset
    `);
  }

  upsert(order: Order, source: Source): void {
    this.#upsert.run(
      order.id,
      order.customer,
      order.amountCents,
      order.currency,
      source.topic,
      source.partition,
      source.offset,
    );
  }

  ids(): string[] {
    return this.#db
      .prepare('SELECT id FROM orders ORDER BY id')
      .all()
      .map((row) => String(row['id']));
  }

  close(): void {
    this.#db.close();
  }
}
