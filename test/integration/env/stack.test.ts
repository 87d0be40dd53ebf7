import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../env/helpers.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

// `npm run stack`, the README's set-up command: the GoMaint Quick Start against it, then Ctrl-C.
describe('the local stack (npm run stack)', () => {
  const stack = spawn(process.execPath, ['test/env/stack.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  stack.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  stack.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

  afterAll(async () => {
    if (stack.exitCode === null) {
      stack.kill('SIGKILL');
      await once(stack, 'exit');
    }
  });

  it('serves the GoMaint Quick Start, switches maintenance through etcd, and stops cleanly on Ctrl-C', async () => {
    await waitFor(() => output.includes('stack is up') || stack.exitCode !== null, {
      timeoutMs: 240_000,
      message: 'the stack to come up',
    });
    expect(output, output).toContain('stack is up');
    const service = /curl (http:\/\/localhost:\d+)\/health/.exec(output)?.[1];
    const etcdUrl = /--endpoints=(\S+) put \/maintenance\/kafka-service/.exec(output)?.[1];
    expect(service, output).toBeDefined();
    expect(etcdUrl, output).toBeDefined();

    const health = await fetch(`${service}/health`);
    expect(health.status).toBe(200);
    const sent = await fetch(`${service}/messages/send`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ topic: 'test-topic', message: 'Hello from Kafka!', key: 'test-key' }),
    });
    expect(sent.status).toBe(200);
    await waitFor(
      async () =>
        ((await (await fetch(`${service}/messages/stats`)).json()) as { kafka: { processed: number } }).kafka
          .processed >= 1,
      { message: 'the sent message processed' },
    );

    const etcd = new Etcd3({ hosts: etcdUrl as string });
    try {
      await etcd.put('/maintenance/kafka-service').value('true');
      await waitFor(async () => (await fetch(`${service}/readyz`)).status === 503, {
        message: 'readyz 503 in maintenance',
      });
      await etcd.put('/maintenance/kafka-service').value('false');
      await waitFor(async () => (await fetch(`${service}/readyz`)).status === 200, {
        message: 'readyz 200 after it',
      });
    } finally {
      etcd.close();
    }

    stack.kill('SIGINT');
    const [code] = (await once(stack, 'exit')) as [number | null];
    expect(code, output).toBe(0);
  });
});
