import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: repoRoot });

/** The import-restriction messages ESLint reports for `code` as if it were the file at `path`. */
async function restricted(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layering lint rules', () => {
  it('fail an engine file that imports kafkajs or etcd3', async () => {
    const messages = await restricted(
      'consumer/src/engine/fixture.ts',
      "import kafkajs from 'kafkajs';\nimport type { Etcd3 } from 'etcd3';\nexport const x: [unknown, Etcd3 | null] = [kafkajs, null];\n",
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /a Kafka client \(kafkajs, @platformatic\/kafka\) is imported only by the Kafka adapters/,
      ),
      expect.stringMatching(/etcd3 is imported only by the etcd adapters/),
    ]);
  });

  it('fail fastify outside HTTP code and an I/O import in core/', async () => {
    expect(
      await restricted('consumer/src/consumer-fixture.ts', "export { fastify } from 'fastify';\n"),
    ).toEqual([expect.stringMatching(/fastify is imported only by HTTP code/)]);
    expect(await restricted('consumer/src/core/fixture.ts', "export { pino } from 'pino';\n")).toEqual([
      expect.stringMatching(/core\/ is pure/),
    ]);
  });

  it('let each adapter folder import its own library and nothing else', async () => {
    expect(await restricted('consumer/src/kafka/fixture.ts', "export { default } from 'kafkajs';\n")).toEqual(
      [],
    );
    expect(await restricted('consumer/src/switch/fixture.ts', "export { Etcd3 } from 'etcd3';\n")).toEqual(
      [],
    );
    expect(await restricted('common/src/switch-watcher.ts', "export { Etcd3 } from 'etcd3';\n")).toEqual([]);
    expect(await restricted('consumer/src/http/fixture.ts', "export { fastify } from 'fastify';\n")).toEqual(
      [],
    );
    expect(
      await restricted('consumer/src/kafka/fixture.ts', "export { Etcd3 } from 'etcd3';\n"),
    ).toHaveLength(1);
  });

  it('keep an example on the published library alone', async () => {
    const messages = await restricted(
      'examples/orders-ledger/src/fixture.ts',
      "export { KmaintError } from '@kmaint/common';\nexport { createConsumer } from '@kmaint/consumer';\n",
    );
    expect(messages).toEqual([expect.stringMatching(/examples use only @kmaint\/consumer/)]);
  });
});
