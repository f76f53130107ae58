/**
 * What the operation limits cost, and how fast they refuse the attacks they exist for. For each
 * document: the time to parse and validate it with graphql-js's own rules alone (the baseline),
 * and with ours in front, in the same run. No database: the schema is the committed SDL.
 *
 *   npm run bench:limits
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { buildSchema, parse, specifiedRules, validate, type ValidationRule } from 'postgraphile/graphql';
import { loadConfig } from '../src/config.ts';
import { validationRules } from '../src/server/operation-limits.ts';
import { projectPath } from '../src/paths.ts';

const schema = buildSchema(fs.readFileSync(projectPath('schema.graphql'), 'utf8'));
const { limits } = loadConfig({
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://x@localhost/x',
  JWT_SECRET: 'x'.repeat(40),
  LMS_CERT_SIGNING_KEY: process.env.LMS_CERT_SIGNING_KEY ?? generateKey(),
  // What production now requires besides its secrets (src/config.ts); no mail is sent here.
  LMS_CERT_KEY_ID: 'bench',
  LMS_PUBLIC_URL: 'https://learn.example.test',
  LMS_MAIL_TRANSPORT: 'outbox',
});
const ours = validationRules(limits, { introspection: false, suggestions: false }, specifiedRules);

function generateKey(): string {
  return globalThis.process
    .getBuiltinModule('node:crypto')
    .generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'der' })
    .toString('base64');
}

function fanOut(levels: number): string {
  const fragments = Array.from({ length: levels }, (_, i) =>
    i === levels - 1 ? `fragment F${i} on Query { a: __typename }` : `fragment F${i} on Query { a: __typename ...F${i + 1} ...F${i + 1} }`,
  );
  return `query { ...F0 } ${fragments.join(' ')}`;
}

const documents: Record<string, string> = {
  'catalog page': 'query { courses(first: 20) { nodes { rowId title slug averageRating instructor { fullName } syllabus { title lessonType } } } }',
  'instructor dashboard': `query { currentUser { coursesByInstructorId { nodes { title enrollments { totalCount aggregates { average { progressPercentage } } } } } } }`,
  'fragment fan-out, 16 levels': fanOut(16),
  'fragment fan-out, 30 levels': fanOut(30),
  '200 aliased connections': `query { ${Array.from({ length: 200 }, (_, i) => `z${i}: courses { totalCount }`).join(' ')} }`,
  'relation fan-out, 7 levels': `query { courses { nodes { ${Array.from({ length: 7 }).reduce<string>((s) => `lessons { nodes { course { ${s} } } }`, 'title')} } } }`,
};

/** Median microseconds of parse + validate, over enough rounds to fill about 200 ms. */
function time(source: string, rules: readonly ValidationRule[], maxTokens?: number): { us: number; errors: string } {
  let errors = '';
  const once = () => {
    try {
      const document = parse(source, maxTokens === undefined ? {} : { maxTokens });
      errors = validate(schema, document, rules)
        .map((e) => (typeof e.extensions.code === 'string' ? e.extensions.code : 'graphql-js'))
        .slice(0, 1)
        .join();
    } catch (error) {
      errors = (error as Error).message.includes('tokens') ? 'QUERY_TOO_LARGE' : 'parse error';
    }
  };
  const started = performance.now();
  once();
  const first = performance.now() - started;
  const rounds = Math.max(3, Math.min(2000, Math.floor(200 / Math.max(first, 0.01))));
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    once();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { us: samples[Math.floor(samples.length / 2)]! * 1000, errors };
}

// One untimed pass first, so that the JIT has warmed up both rule sets before anything is measured.
for (const source of Object.values(documents)) {
  time(source, specifiedRules);
  time(source, ours, limits.maxTokens);
}
console.log('document | graphql-js rules only | with our limits | ratio | our verdict');
for (const [name, source] of Object.entries(documents)) {
  const base = time(source, specifiedRules);
  const limited = time(source, ours, limits.maxTokens);
  const ratio = limited.us / base.us;
  console.log(`${name} | ${base.us.toFixed(0)} µs | ${limited.us.toFixed(0)} µs | ${ratio.toFixed(2)}× | ${limited.errors || 'accepted'}`);
}
