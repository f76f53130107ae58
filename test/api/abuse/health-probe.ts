// Polls /healthz every 20 ms until its stdin closes, then prints what it saw as one JSON line.
// It runs as its own process so that the attacker's event loop cannot delay the measurement.
const url = process.argv[2];
let running = true;
let samples = 0;
let slowestMs = 0;
const failures: string[] = [];
process.stdin.on('end', () => (running = false));
process.stdin.resume();
while (running) {
  const started = performance.now();
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    if (res.status !== 200) failures.push(`HTTP ${res.status}`);
  } catch (error) {
    failures.push(String(error));
  }
  slowestMs = Math.max(slowestMs, performance.now() - started);
  samples += 1;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
process.stdout.write(`${JSON.stringify({ samples, slowestMs, failures })}\n`);
