import { setLogSink } from '../../src/log.ts';

// The API's and worker's log lines stay out of jest's report of passing tests: they are held
// for the running test, which test/support/environment.ts prints if it fails.
// LMS_TEST_LOGS=1 shows every line as it comes.
if (!process.env.LMS_TEST_LOGS) {
  setLogSink((line) => {
    (globalThis as { __coursebaseLogLines?: string[] }).__coursebaseLogLines?.push(line);
  });
}
