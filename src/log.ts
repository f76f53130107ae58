/** Where log lines go: standard output, unless a test harness keeps them out of its report. */
let sink: (line: string) => void = (line) => process.stdout.write(line);

/** Replaces the destination of every logger's lines (the jest setup silences them). */
export function setLogSink(next: (line: string) => void): void {
  sink = next;
}

/** Plain line logger; a scope names the process part. Never pass it secrets. */
export function logger(scope: string): (message: string) => void {
  return (message) => {
    sink(`${new Date().toISOString()} [${scope}] ${message}\n`);
  };
}
