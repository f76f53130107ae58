import fs from 'node:fs/promises';
import pg from 'pg';
import { projectPath } from '../paths.ts';
import { withTransaction } from './transaction.ts';

/** The demo accounts; development-only passwords, the only ones ever printed. */
export const DEMO_ACCOUNTS = [
  { role: 'admin', email: 'admin@demo.coursebase.test', password: 'demo-admin-password' },
  { role: 'instructor', email: 'instructor@demo.coursebase.test', password: 'demo-instructor-password' },
  { role: 'student', email: 'amal@demo.coursebase.test', password: 'demo-student-password' },
  { role: 'student', email: 'omar@demo.coursebase.test', password: 'demo-student-password' },
] as const;

/**
 * Runs db/seed/demo.sql as the owner. With `onlyIfEmpty`, only into a database without users
 * (the first start of the embedded database). Returns whether the demo was written.
 */
export async function seedDemo(ownerUrl: string, bcryptCost: number, { onlyIfEmpty }: { onlyIfEmpty: boolean }): Promise<boolean> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ users: boolean; demo: boolean }>(
      "select exists (select from lms_public.users) as users, exists (select from lms_public.users where email = 'admin@demo.coursebase.test') as demo",
    );
    if (rows[0]!.demo || (onlyIfEmpty && rows[0]!.users)) return false;
    const demo = await fs.readFile(projectPath('db', 'seed', 'demo.sql'), 'utf8');
    await withTransaction(client, { settings: { 'lms.bcrypt_cost': String(bcryptCost) } }, (c) => c.query(demo));
    return true;
  } finally {
    await client.end();
  }
}

export function describeDemoAccounts(): string[] {
  return DEMO_ACCOUNTS.map((a) => `  ${a.role.padEnd(10)} ${a.email}  password: ${a.password}`);
}
