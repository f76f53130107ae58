import fs from 'node:fs';
import path from 'node:path';

/**
 * The checkout's root: the nearest folder above the working directory, or above the
 * started script, whose package.json is ours. Resolved from there rather than from
 * import.meta, which the test transform (CommonJS) does not have.
 */
function findRoot(): string {
  const starts = [process.cwd(), process.argv[1] ? path.dirname(path.resolve(process.argv[1])) : undefined];
  for (const start of starts) {
    for (let dir = start; dir !== undefined;) {
      const manifest = path.join(dir, 'package.json');
      if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'coursebase') return dir;
      const parent = path.dirname(dir);
      dir = parent === dir ? undefined : parent;
    }
  }
  throw new Error('cannot find the Coursebase checkout (package.json) above the working directory');
}

export const projectRoot = findRoot();

export function projectPath(...segments: string[]): string {
  return path.join(projectRoot, ...segments);
}
