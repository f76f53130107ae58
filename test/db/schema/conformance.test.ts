import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { EXPECTED_SCHEMA, type DocCheck, type ExpectedTable } from './design-document.ts';

// The migrated schema against the design document (with DESIGN.md's deliberate deviations).
// Extra columns, constraints and indexes are allowed: only what the document names is checked.

interface CatalogColumn {
  type: string;
  nullable: boolean;
  default: string | null;
  generated: string | null;
}

interface CatalogConstraint {
  name: string;
  kind: 'p' | 'u' | 'f' | 'c' | 'x' | 't' | 'n';
  columns: string[];
  references: string | null;
  onDelete: string | null;
  onUpdate: string | null;
  deferrable: string;
  definition: string;
}

interface CatalogIndex {
  table: string;
  method: string;
  unique: boolean;
  partial: boolean;
  columns: string[];
}

interface Catalog {
  /** table name → the lms schemas that hold a table of that name */
  schemasOf: Map<string, string[]>;
  /** schema.table → column → column */
  columns: Map<string, Map<string, CatalogColumn>>;
  /** schema.table → constraints */
  constraints: Map<string, CatalogConstraint[]>;
  /** schema.index → index */
  indexes: Map<string, CatalogIndex>;
}

const SCHEMAS = ['lms_public', 'lms_private'];
const ACTIONS: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

async function readCatalog(pool: pg.Pool): Promise<Catalog> {
  const tables = await pool.query<{ schema: string; table: string }>(
    `select n.nspname as schema, c.relname as table
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r', 'p')`,
    [SCHEMAS],
  );
  const columns = await pool.query<CatalogColumn & { schema: string; table: string; column: string }>(
    `select n.nspname as schema, c.relname as table, a.attname as column,
            format_type(a.atttypid, a.atttypmod) as type,
            not a.attnotnull as nullable,
            case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end as default,
            case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end as generated
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where n.nspname = any($1) and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`,
    [SCHEMAS],
  );
  const constraints = await pool.query<CatalogConstraint & { schema: string; table: string; ondelete: string | null; onupdate: string | null }>(
    `select n.nspname as schema, c.relname as table, con.conname as name, con.contype as kind,
            array(select a.attname::text from unnest(con.conkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.ord) as columns,
            case when con.contype = 'f' then
              fn.nspname || '.' || fc.relname || '(' ||
              array_to_string(array(select a.attname::text from unnest(con.confkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.ord), ', ') || ')'
            end as references,
            case when con.contype = 'f' then con.confdeltype::text end as ondelete,
            case when con.contype = 'f' then con.confupdtype::text end as onupdate,
            case when not con.condeferrable then 'not deferrable'
                 when con.condeferred then 'deferrable initially deferred'
                 else 'deferrable initially immediate' end as deferrable,
            pg_get_constraintdef(con.oid) as definition
       from pg_constraint con
       join pg_class c on c.oid = con.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_class fc on fc.oid = con.confrelid
       left join pg_namespace fn on fn.oid = fc.relnamespace
      where n.nspname = any($1)`,
    [SCHEMAS],
  );
  // Key columns only (not INCLUDE), each with its order; NULLS is shown only when not the default.
  const indexes = await pool.query<CatalogIndex & { schema: string; name: string }>(
    `select n.nspname as schema, ic.relname as name, tc.relname as table, am.amname as method,
            i.indisunique as unique, i.indpred is not null as partial,
            array(select pg_get_indexdef(i.indexrelid, k, true)
                         || case when i.indoption[k - 1] & 1 = 1 then ' DESC' else '' end
                         || case when i.indoption[k - 1] & 3 = 1 then ' NULLS LAST'
                                 when i.indoption[k - 1] & 3 = 2 then ' NULLS FIRST' else '' end
                    from generate_series(1, i.indnkeyatts) k order by k) as columns
       from pg_index i
       join pg_class ic on ic.oid = i.indexrelid
       join pg_class tc on tc.oid = i.indrelid
       join pg_namespace n on n.oid = ic.relnamespace
       join pg_am am on am.oid = ic.relam
      where n.nspname = any($1)`,
    [SCHEMAS],
  );

  const catalog: Catalog = { schemasOf: new Map(), columns: new Map(), constraints: new Map(), indexes: new Map() };
  for (const t of tables.rows) catalog.schemasOf.set(t.table, [...(catalog.schemasOf.get(t.table) ?? []), t.schema].sort());
  for (const { schema, table, column, ...rest } of columns.rows) {
    const key = `${schema}.${table}`;
    if (!catalog.columns.has(key)) catalog.columns.set(key, new Map());
    catalog.columns.get(key)!.set(column, rest);
  }
  for (const { schema, table, ondelete, onupdate, ...rest } of constraints.rows) {
    const key = `${schema}.${table}`;
    const constraint: CatalogConstraint = {
      ...rest,
      onDelete: ondelete === null ? null : ACTIONS[ondelete]!,
      onUpdate: onupdate === null ? null : ACTIONS[onupdate]!,
    };
    catalog.constraints.set(key, [...(catalog.constraints.get(key) ?? []), constraint]);
  }
  for (const { schema, name, ...rest } of indexes.rows) catalog.indexes.set(`${schema}.${name}`, rest);
  return catalog;
}

// ---------------------------------------------------------------------------------------------
// Defaults, compared by meaning

const NOW_ALIASES = new Set(['now', 'current_timestamp', 'transaction_timestamp']);

/** `gen_random_uuid()`, `NOW()`, `pg_catalog.now()` and `CURRENT_TIMESTAMP` in one spelling; null if not a call. */
function functionDefault(sql: string): string | null {
  const text = sql.trim();
  if (/^current_timestamp$/i.test(text)) return 'now()';
  const call = /^(?:(?:public|pg_catalog)\.)?([a-z_][a-z0-9_]*)\(\)$/i.exec(text);
  if (!call) return null;
  const name = call[1]!.toLowerCase();
  return NOW_ALIASES.has(name) ? 'now()' : `${name}()`;
}

/** A function default by name; any other default by its value cast to the column's type. */
async function describeDefault(client: pg.ClientBase, sql: string | null, type: string): Promise<string | null> {
  if (sql === null) return null;
  const call = functionDefault(sql);
  if (call !== null) return call;
  const { rows } = await client.query<{ value: string | null }>(`select ((${sql})::${type})::text as value`);
  return `constant ${rows[0]!.value ?? 'NULL'}`;
}

// ---------------------------------------------------------------------------------------------
// CHECK constraints, by behaviour

type Verdict = 'accepted' | 'rejected';

/**
 * Runs the column's CHECK constraints, copied onto a temporary table of the columns they read,
 * against each value; the other columns stay null so that only the rule on this column decides.
 */
async function probeChecks(
  client: pg.ClientBase,
  columns: Map<string, CatalogColumn>,
  checks: CatalogConstraint[],
  column: string,
  values: string[],
): Promise<Record<string, Verdict>> {
  const read = [...new Set(checks.flatMap((c) => c.columns))];
  const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
  await client.query(`create temp table conformance_probe (${read.map((c) => `${ident(c)} ${columns.get(c)!.type}`).join(', ')})`);
  for (const [i, check] of checks.entries()) {
    await client.query(`alter table conformance_probe add constraint probe_${i} ${check.definition}`);
  }
  const verdicts: Record<string, Verdict> = {};
  for (const value of values) {
    await client.query('savepoint probe');
    try {
      await client.query(`insert into conformance_probe (${ident(column)}) values ($1)`, [value]);
      verdicts[value] = 'accepted';
    } catch (error) {
      if ((error as { code?: string }).code !== '23514') throw error;
      verdicts[value] = 'rejected';
    }
    await client.query('rollback to savepoint probe');
  }
  await client.query('drop table conformance_probe');
  return verdicts;
}

/** The quoted literals of a constraint definition, e.g. the members of `= ANY (ARRAY['a', 'b'])`. */
function stringLiterals(definition: string): string[] {
  return [...definition.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"));
}

/** The smallest step of an integer or numeric(p,s) column, to probe just past a bound. */
function stepOf(type: string): number {
  if (['smallint', 'integer', 'bigint'].includes(type)) return 1;
  const numeric = /^numeric\(\d+,(\d+)\)$/.exec(type);
  if (numeric) return 10 ** -Number(numeric[1]);
  throw new Error(`no step for a range check on a ${type} column`);
}

function checkTitle(check: DocCheck): string {
  if (check.kind === 'values') return `CHECK ${check.column} allows exactly: ${check.values.join(', ')}`;
  return check.max === undefined ? `CHECK ${check.column} >= ${check.min}` : `CHECK ${check.column} between ${check.min} and ${check.max}`;
}

// ---------------------------------------------------------------------------------------------

let db: TestDatabase;
let catalog: Catalog;
beforeAll(async () => {
  db = await createTestDatabase();
  catalog = await readCatalog(db.root);
});
afterAll(() => db.close());

/** it.each refuses an empty table; a table with nothing of one kind simply has no such test. */
function eachCase<T>(cases: readonly T[], title: (c: T) => string, fn: (c: T) => Promise<void> | void): void {
  if (cases.length === 0) return;
  it.each(cases.map((c) => [title(c), c] as [string, T]))('%s', (_title, c) => fn(c));
}

describe.each(EXPECTED_SCHEMA.map((t) => [`${t.schema}.${t.table} (${t.source})`, t] as [string, ExpectedTable]))('%s', (_title, expected) => {
  const key = `${expected.schema}.${expected.table}`;
  const columnsOf = () => catalog.columns.get(key) ?? new Map<string, CatalogColumn>();
  const constraintsOf = (kind: CatalogConstraint['kind']) => (catalog.constraints.get(key) ?? []).filter((c) => c.kind === kind);

  it(`lives in ${expected.schema}`, () => {
    expect(catalog.schemasOf.get(expected.table) ?? []).toEqual([expected.schema]);
  });

  eachCase(
    Object.entries(expected.columns),
    ([name, c]) => `column ${name} ${c.type}${c.nullable ? '' : ' not null'}${c.default === null ? '' : ` default ${c.default}`}`,
    ([name, spec]) =>
      db.asRoot(async (client) => {
        expect([...columnsOf().keys()]).toContain(name);
        const actual = columnsOf().get(name);
        expect(actual!.generated).toBeNull();
        expect({
          type: actual!.type,
          nullable: actual!.nullable,
          default: await describeDefault(client, actual!.default, spec.type),
        }).toEqual({
          type: spec.type,
          nullable: spec.nullable,
          default: await describeDefault(client, spec.default, spec.type),
        });
      }),
  );

  eachCase(
    expected.movedColumns,
    (m) => `has no column ${m.column} (moved to ${m.to})`,
    (m) => {
      expect([...columnsOf().keys()]).not.toContain(m.column);
    },
  );

  it(`primary key (${expected.primaryKey.join(', ')})`, () => {
    expect(constraintsOf('p').map((c) => c.columns)).toEqual([expected.primaryKey]);
  });

  eachCase(
    expected.uniques,
    (u) => `unique (${u.columns.join(', ')})${u.deferrable === 'not deferrable' ? '' : ` ${u.deferrable}`}${u.name ? ` named ${u.name}` : ''}`,
    (u) => {
      const actual = constraintsOf('u').map((c) => ({
        columns: c.columns,
        deferrable: c.deferrable,
        ...(u.name === undefined ? {} : { name: c.name }),
      }));
      expect(actual).toContainEqual(u);
    },
  );

  eachCase(
    expected.foreignKeys,
    (fk) => `foreign key (${fk.columns.join(', ')}) references ${fk.references} on delete ${fk.onDelete}`,
    (fk) => {
      const actual = constraintsOf('f').map((c) => ({
        columns: c.columns,
        references: c.references,
        onDelete: c.onDelete,
        onUpdate: c.onUpdate,
      }));
      expect(actual).toContainEqual(fk);
    },
  );

  eachCase(
    expected.indexes,
    (i) => `index ${i.name} (${i.columns.join(', ')})`,
    (i) => {
      // The document's indexes are plain B-tree indexes over every row.
      expect(catalog.indexes.get(`${expected.schema}.${i.name}`)).toEqual({
        table: expected.table,
        method: 'btree',
        unique: false,
        partial: false,
        columns: i.columns,
      });
    },
  );

  eachCase(expected.checks, checkTitle, (check) =>
    db.asRoot(async (client) => {
      const columns = columnsOf();
      // The document's CHECKs are single-column; a CHECK over several columns (options valid for
      // the question type, say) is a rule of its own, tested with its domain.
      const onColumn = constraintsOf('c').filter((c) => c.columns.length === 1 && c.columns[0] === check.column);
      expect(onColumn.map((c) => c.name)).not.toEqual([]);

      let probes: Record<string, Verdict>;
      if (check.kind === 'values') {
        expect([...new Set(onColumn.flatMap((c) => stringLiterals(c.definition)))].sort()).toEqual([...check.values].sort());
        const first = check.values[0]!;
        probes = Object.fromEntries([
          ...check.values.map((v) => [v, 'accepted'] as const),
          ...['unlisted', first.toUpperCase(), `${first} `, ''].map((v) => [v, 'rejected'] as const),
        ]);
      } else {
        const step = stepOf(columns.get(check.column)!.type);
        const inside = check.max === undefined ? [check.min, check.min + 1000 * step] : [check.min, check.max];
        const outside = check.max === undefined ? [check.min - step] : [check.min - step, check.max + step];
        const text = (n: number) => String(Number(n.toFixed(6)));
        probes = Object.fromEntries([...inside.map((n) => [text(n), 'accepted'] as const), ...outside.map((n) => [text(n), 'rejected'] as const)]);
      }
      expect(await probeChecks(client, columns, onColumn, check.column, Object.keys(probes))).toEqual(probes);
    }),
  );
});
