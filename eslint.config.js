import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layering rule (docs/architecture.md): core/ is pure, so it may import neither I/O libraries nor anything
// outside core/. Enforced here so a slip fails `npm test` instead of waiting for review.
const ioModules = [
  'kafkajs',
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
