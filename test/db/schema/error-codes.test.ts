import fs from 'node:fs/promises';
import path from 'node:path';
import { CUSTOM_ERROR_CODES, GRAPHQL_LIMIT_CODES, HTTP_ERROR_CODES, PASSED_POSTGRES_CODES } from '../../../src/errors.ts';
import { projectPath } from '../../../src/paths.ts';

async function sqlFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sqlFiles(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith('.sql') ? [path.join(dir, e.name)] : []))),
  );
  return nested.flat();
}

it('every custom SQLSTATE raised in SQL is one the API passes through', async () => {
  const files = [...(await sqlFiles(projectPath('db'))), ...(await sqlFiles(projectPath('migrations', 'committed')))];
  expect(files.length).toBeGreaterThan(5);
  const raised = new Set<string>();
  for (const file of files) {
    for (const match of (await fs.readFile(file, 'utf8')).matchAll(/errcode\s*=\s*'([0-9A-Z]{5})'/g)) raised.add(match[1]!);
  }
  const unknown = [...raised].filter((code) => !Object.hasOwn(CUSTOM_ERROR_CODES, code) && !Object.hasOwn(PASSED_POSTGRES_CODES, code));
  expect(unknown).toEqual([]);
});

it('docs/errors.md documents every code a client can receive', async () => {
  const errors = await fs.readFile(projectPath('docs', 'errors.md'), 'utf8');
  const documented = new Set([...errors.matchAll(/^\| `([0-9A-Z_]+)` \|/gm)].map((m) => m[1]));
  const codes = [
    ...Object.keys(CUSTOM_ERROR_CODES),
    ...Object.keys(PASSED_POSTGRES_CODES),
    ...Object.keys(HTTP_ERROR_CODES),
    ...Object.keys(GRAPHQL_LIMIT_CODES),
  ];
  expect(codes.filter((code) => !documented.has(code))).toEqual([]);
});

it("custom codes stay clear of PostgreSQL's own SQLSTATE classes", () => {
  // PostgreSQL's classes are digits-led or one of these letter-led ones.
  const postgresClasses = ['HV', 'P0', 'XX', 'F0'];
  for (const code of Object.keys(CUSTOM_ERROR_CODES)) {
    expect(code).toMatch(/^[A-Z]{5}$/);
    expect(postgresClasses).not.toContain(code.slice(0, 2));
  }
});
