import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Logger, migrate } from 'graphile-migrate';
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import { superuserUrl, withClient } from '../../../src/db/scratch-cluster.ts';
import { baseUrl } from '../../support/db.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';
import { checkSymbol } from '../../support/certificate-check.ts';
import { projectPath } from '../../../src/paths.ts';
import { loadConfig } from '../../../src/config.ts';
import { resolveConnections, type Connections } from '../../../src/db/connections.ts';
import { bootstrapRoles } from '../../../src/db/migrate.ts';

const DATABASE = `coursebase_test_upgrade_${process.env.JEST_WORKER_ID ?? '0'}`;
const url = () => superuserUrl(baseUrl(), DATABASE);
const EXACT_SINCE = '000016';

let folder: string;
let connections: Connections;

/** Applies the committed migrations before `until` (all of them when undefined), as production would. */
async function migrateTo(until?: string): Promise<void> {
  const committed = path.join(folder, 'committed');
  await fs.rm(committed, { recursive: true, force: true });
  await fs.mkdir(committed, { recursive: true });
  for (const file of await fs.readdir(projectPath('migrations', 'committed'))) {
    if (until === undefined || file < until) await fs.copyFile(projectPath('migrations', 'committed', file), path.join(committed, file));
  }
  await migrate({
    connectionString: connections.ownerUrl,
    rootConnectionString: connections.rootUrl,
    migrationsFolder: folder,
    logger: new Logger(() => () => {}),
  });
  clearAllPools();
}

beforeAll(async () => {
  folder = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-upgrade-'));
  await withClient(superuserUrl(baseUrl(), 'postgres'), async (c) => {
    await c.query(`drop database if exists ${DATABASE} with (force)`);
    await c.query(`create database ${DATABASE}`);
  });
  connections = await resolveConnections(loadConfig({ NODE_ENV: 'test', DATABASE_URL: url() }));
  await bootstrapRoles(connections.rootUrl!, connections.devPasswords);
  await runWorkerMigrations({ connectionString: connections.ownerUrl });
  await migrateTo(EXACT_SINCE);
});
afterAll(async () => {
  await withClient(superuserUrl(baseUrl(), 'postgres'), (c) => c.query(`drop database if exists ${DATABASE} with (force)`));
  await fs.rm(folder, { recursive: true, force: true });
});

it(`numbers issued before ${EXACT_SINCE} keep verifying as printed, and revocations a reissue erased come back from the audit log`, async () => {
  const before = await withClient(url(), async (c) => {
    const admin = await insertUser(c, { role: 'admin' });
    const teacher = await insertUser(c, { role: 'instructor' });
    const course = await insertCourse(c, teacher.id, { isPublished: true });
    const issued: Array<{ id: string; number: string }> = [];
    for (let i = 0; i < 40; i++) {
      const student = await insertUser(c);
      const { rows } = await c.query(
        `insert into lms_public.enrollments (student_id, course_id, status, completed_at, progress_percentage)
         values ($1, $2, 'completed', now(), 100) returning id`,
        [student.id, course.id],
      );
      const { rows: cert } = await c.query('select * from lms_private.prepare_certificate($1)', [rows[0].id]);
      issued.push({ id: cert[0].certificate_id, number: cert[0].certificate_number });
    }
    // The old code: revoke, then reissue, which cleared the revocation from public view.
    await c.query('begin');
    await c.query('set local role lms_admin');
    await c.query("select set_config('jwt.claims.user_id', $1, true)", [admin.id]);
    await c.query('select lms_public.revoke_certificate($1, $2)', [issued[0]!.id, 'Wrong name on it']);
    const { rows: next } = await c.query('select certificate_number from lms_public.reissue_certificate($1)', [issued[0]!.id]);
    await c.query('commit');
    const { rows: erased } = await c.query('select status, revoked_at from lms_public.verify_certificate($1)', [issued[0]!.number]);
    expect(erased[0]).toEqual({ status: 'replaced', revoked_at: null });
    return { issued, reissuedAs: next[0].certificate_number as string };
  });
  const all = [...before.issued.map((i) => i.number), before.reissuedAs];
  const legacy = all.filter((n) => checkSymbol(n.slice(3, 17).replaceAll('-', '')) !== n.at(-1));
  // Most numbers had a wrong check character; 1 in 37 was right by chance.
  expect(legacy.length).toBeGreaterThan(30);

  await migrateTo();

  await withClient(url(), async (c) => {
    await c.query('begin');
    await c.query('set local role lms_anonymous');
    const { rows } = await c.query('select n, (lms_public.verify_certificate(n)).certificate_number as found from unnest($1::text[]) n', [all]);
    expect(rows.filter((r) => r.found !== r.n)).toEqual([]);
    const { rows: old } = await c.query('select * from lms_public.verify_certificate($1)', [before.issued[0]!.number]);
    expect(old[0]).toMatchObject({ status: 'revoked', revoked_reason: 'Wrong name on it', revoked_at: expect.any(Date), replaced_by: before.reissuedAs });
    await c.query('rollback');
    const { rows: recorded } = await c.query('select certificate_number from lms_private.legacy_certificate_numbers order by 1');
    expect(recorded.map((r) => r.certificate_number)).toEqual([...legacy].sort());
    // A legacy number's body with the exact check character is a different, unissued number.
    const body = legacy[0]!.slice(0, -1);
    const { rows: exact } = await c.query('select (lms_public.verify_certificate($1)).certificate_number as found', [
      body + checkSymbol(body.slice(3).replaceAll('-', '')),
    ]);
    expect(exact[0].found).toBeNull();
  });
});
