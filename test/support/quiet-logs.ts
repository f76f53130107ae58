import { setLogSink } from '../../src/log.ts';

// The API's and worker's log lines stay out of jest's report of passing tests; a failing test
// reports its own assertions. LMS_TEST_LOGS=1 shows the lines when chasing a failure.
if (!process.env.LMS_TEST_LOGS) setLogSink(() => {});
