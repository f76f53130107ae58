import { TestEnvironment } from 'jest-environment-node';
import type { Circus } from '@jest/types';

/**
 * The Node environment, holding back the API's and worker's log lines (see quiet-logs.ts): a
 * test that passes shows none; a test that fails prints the lines logged while it ran, since
 * they often explain an error id in its assertion. LMS_TEST_LOGS=1 prints them all as they come.
 */
export default class QuietLogsEnvironment extends TestEnvironment {
  handleTestEvent(event: Circus.Event): void {
    if (event.name === 'test_start') {
      this.global.__coursebaseLogLines = [];
    } else if (event.name === 'test_done' && event.test.errors.length > 0) {
      const lines = (this.global.__coursebaseLogLines as string[] | undefined) ?? [];
      if (lines.length > 0) process.stderr.write(`log lines of the failed test "${event.test.name}":\n${lines.join('')}`);
    }
  }
}
