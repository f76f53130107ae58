import base from './jest.config.js';

/** The abuse suite (part of npm test): alone, so that what it measures is the server under attack, not the other tests. */
export default {
  ...base,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['**/test/api/abuse/**/*.test.ts'],
  maxWorkers: 1,
};
