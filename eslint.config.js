import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layering rule (docs/architecture.md): core/ is pure, so it may import neither I/O libraries nor anything
// outside core/. Enforced here so a slip fails `npm test` instead of waiting for review.
const ioModules = [
  'kafkajs',
  '@platformatic/kafka',
  'etcd3',
  'fastify',
  '@fastify/*',
  '@kubernetes/client-node',
  'prom-client',
  'pino',
  'node:fs',
  'node:fs/*',
  'node:net',
  'node:http',
  'node:https',
  'node:child_process',
  'node:dgram',
];

// Thin adapters: each I/O library is imported by one folder only, so the engine and the rest of the code
// depend on kmaint's own interfaces (KafkaClient, SwitchSource, the HTTP ports) and never on a client.
const adapters = [
  {
    name: 'a Kafka client (kafkajs, @platformatic/kafka)',
    modules: ['kafkajs', '@platformatic/kafka'],
    folders: ['consumer/src/kafka/**'],
    where: 'the Kafka adapters (consumer/src/kafka/)',
  },
  {
    name: 'etcd3',
    modules: ['etcd3'],
    folders: [
      'consumer/src/switch/**',
      'operator/src/etcd/**',
      'common/src/etcd-client.ts',
      'common/src/switch-watcher.ts',
      'common/src/member-reporter.ts',
    ],
    where: "the etcd adapters (consumer/src/switch/, operator/src/etcd/, @kmaint/common's etcd files)",
  },
  {
    name: 'fastify',
    modules: ['fastify', '@fastify/*'],
    folders: ['*/src/http/**'],
    where: 'HTTP code (*/src/http/)',
  },
];

const sources = ['*/src/**/*.ts'];

/** no-restricted-imports for every adapter but `except`: one setting per file, since settings do not merge. */
function onlyInAdapters(except) {
  const patterns = adapters
    .filter((a) => a !== except)
    .map((a) => ({ group: a.modules, message: `${a.name} is imported only by ${a.where}.` }));
  return { 'no-restricted-imports': ['error', { patterns }] };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: sources,
    ignores: adapters.flatMap((a) => a.folders),
    rules: onlyInAdapters(null),
  },
  ...adapters.map((a) => ({ files: a.folders, rules: onlyInAdapters(a) })),
  {
    // An example is written as a user would: the published library is all it knows of kmaint.
    files: ['examples/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@kmaint/*', '!@kmaint/consumer', '!@kmaint/consumer/*'],
              message: 'examples use only @kmaint/consumer.',
            },
            {
              group: ['**/consumer/src/**', '**/common/src/**'],
              message: 'examples use only @kmaint/consumer.',
            },
            {
              group: ['kafkajs', '@platformatic/kafka', 'etcd3'],
              message: 'examples reach Kafka and etcd through @kmaint/consumer.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['*/src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ioModules, message: 'core/ is pure: no I/O libraries (docs/architecture.md).' },
            { group: ['../*', '!../core', '!../core/*'], message: 'core/ imports nothing outside core/.' },
          ],
        },
      ],
    },
  },
  {
    // Scripts, tests and benchmarks talk to people through the console.
    files: ['test/**/*.ts', 'bench/**/*.ts', '*/test/**/*.ts', '.ci/**'],
    rules: { 'no-console': 'off' },
  },
);
