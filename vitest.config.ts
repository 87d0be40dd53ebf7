import { defineConfig } from 'vitest/config';

// Three projects: unit tests touch no server; integration and e2e tests share one set of real servers
// (Kafka, etcd, kube-apiserver, ...) that test/env/global-setup.ts starts once per run.
const realServers = {
  globalSetup: ['test/env/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 300_000,
  // The two cores are shared with a JVM broker and a control plane: run files one after another.
  fileParallelism: false,
};

// In the repo, workspace packages resolve to their TypeScript sources (the "@kmaint/source" export
// condition); a published package resolves to its compiled dist/.
const resolve = { conditions: ['@kmaint/source'] };

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions: ['@kmaint/source'], externalConditions: ['@kmaint/source'] } },
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '*/test/unit/**/*.test.ts',
            'examples/*/test/unit/**/*.test.ts',
            'test/unit/**/*.test.ts',
          ],
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            '*/test/integration/**/*.test.ts',
            'examples/*/test/integration/**/*.test.ts',
            'test/integration/**/*.test.ts',
          ],
          ...realServers,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          ...realServers,
          // After the integration files, not beside them: both restart the shared Kafka and etcd.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
