import base from './jest.config.js';

/** Real-browser tests (npm run test:e2e): slower, and need Chromium at /usr/bin/chromium. */
export default {
  ...base,
  testMatch: ['**/e2e/**/*.e2e.ts'],
  maxWorkers: 1,
  testTimeout: 60_000,
};
