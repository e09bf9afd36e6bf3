/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is done once by `npm run typecheck`; here we only transpile, which keeps jest fast.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores: Temporal servers and workers are heavy; keep parallelism modest.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/harness/totals-reporter.js'],
};
