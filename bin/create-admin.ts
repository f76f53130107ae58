import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { logger } from '../src/log.ts';

/** npm run create-admin -- --email a@b.c [--password …] [--name …]; prompts for what is missing. */
const { values } = parseArgs({
  options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
});

async function ask(question: string, hidden = false): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stdout.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY });
  const answer = rl.question(question);
  muted = hidden;
  try {
    return (await answer).trim();
  } finally {
    rl.close();
    if (hidden) process.stdout.write('\n');
  }
}

const log = logger('create-admin');
const config = loadConfig();
const email = values.email ?? (await ask('Email: '));
const password = values.password ?? (await ask('Password (10+ characters): ', true));
const fullName = values.name ?? 'Administrator';

const database = await openDatabase(config, log);
const client = new pg.Client({ connectionString: database.connections.ownerUrl });
try {
  await client.connect();
  await client.query("select set_config('lms.bcrypt_cost', $1, false)", [String(config.bcryptCost)]);
  const { rows } = await client.query<{ id: string }>('select lms_private.create_admin($1, $2, $3) as id', [email, password, fullName]);
  log(`admin ${email.trim().toLowerCase()} is ready (id ${rows[0]!.id})`);
} catch (error) {
  process.exitCode = 1;
  log(`could not create the admin: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await client.end();
  await database.stop();
}
