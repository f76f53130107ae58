import { spawn } from 'node:child_process';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { bootstrapRoles } from '../src/db/migrate.ts';
import { logger } from '../src/log.ts';
import { projectPath } from '../src/paths.ts';

/**
 * Runs the graphile-migrate CLI (watch, commit, uncommit, status…) with the connections that
 * `npm run db:migrate` uses, starting the embedded database when DATABASE_URL is unset.
 */
const log = logger('gm');
const database = await openDatabase(loadConfig(), log);
const { ownerUrl, rootUrl, shadowUrl, devPasswords } = database.connections;
// The shadow database is created for lms_owner, so the roles must exist first.
if (rootUrl !== undefined) await bootstrapRoles(rootUrl, devPasswords);
const cli = projectPath('node_modules', 'graphile-migrate', 'dist', 'cli.js');
const child = spawn(process.execPath, [cli, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: projectPath(),
  env: {
    ...process.env,
    DATABASE_URL: ownerUrl,
    ROOT_DATABASE_URL: rootUrl ?? ownerUrl,
    ...(shadowUrl === undefined ? {} : { SHADOW_DATABASE_URL: shadowUrl }),
  },
});
const stopChild = () => child.kill('SIGINT');
process.on('SIGINT', stopChild);
process.on('SIGTERM', stopChild);
const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
await database.stop();
process.exitCode = code;
