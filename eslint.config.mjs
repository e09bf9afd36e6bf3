import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/**', 'node_modules/**', '.tools/**', '.data/**', 'coverage/**', 'test-output/**', 'jest.config.js', 'test/harness/totals-reporter.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Plain CommonJS Node scripts (lockfile maintenance; the benchmarks' --require preloads).
    files: ['scripts/**/*.js', 'bench/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        console: 'readonly',
        process: 'readonly',
        setInterval: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Programs live in src/cli/ (one per npm script); libraries never import them, nor the dev stack's launcher.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/cli/*', '**/cli/**'], message: 'Libraries must not import program code (src/cli).' }] },
      ],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: forbid the obvious sources of non-determinism.
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            // '!…': pure protocol facts with no imports (WeChat's bank list for abnormal refunds) are safe to import.
            { group: ['../activities/*', '../wechatpay/*', '!../wechatpay/abnormal-bank-types', '../webhook/*', '../simulator/*', 'undici', 'node:*', 'fs', 'crypto'], allowTypeImports: true, message: 'Workflow code must not do I/O; import types only.' },
            // Repeated from the rule above, which this block's setting replaces for these files.
            { group: ['**/cli/*', '**/cli/**'], message: 'Libraries must not import program code (src/cli).' },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use the workflow SDK (uuid4 / deterministic sources).' },
      ],
    },
  },
);
