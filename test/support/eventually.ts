/**
 * Polls until probe returns a value (anything but undefined), or fails after the timeout: the one
 * way tests wait for the worker, a spawned process or an email.
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string | (() => string), timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
