/** Plain line logger; a scope names the process part. Never pass it secrets. */
export function logger(scope: string): (message: string) => void {
  return (message) => {
    process.stdout.write(`${new Date().toISOString()} [${scope}] ${message}\n`);
  };
}
