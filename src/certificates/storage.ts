import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';

/**
 * Where certificate PDFs live. The default writes under <LMS_DATA_DIR>/storage; another store
 * (an object store, when the API runs on several machines) implements the same three calls.
 */
export interface Storage {
  put(key: string, bytes: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  exists(key: string): Promise<boolean>;
}

export function localStorage(config: Config): Storage {
  const root = path.join(config.dataDir, 'storage');
  const file = (key: string) => {
    const resolved = path.resolve(root, key);
    if (!resolved.startsWith(root + path.sep)) throw new Error(`storage key escapes the store: ${key}`);
    return resolved;
  };
  return {
    async put(key, bytes) {
      const target = file(key);
      await fs.mkdir(path.dirname(target), { recursive: true });
      // Write then rename: a crash never leaves a half-written PDF under the real name.
      const partial = `${target}.partial-${process.pid}`;
      await fs.writeFile(partial, bytes);
      await fs.rename(partial, target);
    },
    async get(key) {
      return fs.readFile(file(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
    },
    async exists(key) {
      return fs.access(file(key)).then(
        () => true,
        () => false,
      );
    },
  };
}
