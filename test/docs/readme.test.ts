import fs from 'node:fs';
import { buildSchema, parse, validate } from 'postgraphile/graphql';
import { projectPath } from '../../src/paths.ts';

const README = fs.readFileSync(projectPath('README.md'), 'utf8');
const schema = buildSchema(fs.readFileSync(projectPath('schema.graphql'), 'utf8'));

/** The README's GraphQL examples: one operation per `query`/`mutation` line, with its continuation lines. */
function examples(): string[] {
  const blocks = [...README.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const operations: string[] = [];
  for (const line of blocks.flatMap((b) => b.split('\n'))) {
    const code = line.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (/^(query|mutation)\b/.test(code)) operations.push(code);
    else if (code.trim() !== '' && operations.length > 0) operations[operations.length - 1] += `\n${code}`;
  }
  return operations;
}

function selectionOf(field: string): string {
  const example = examples().find((e) => new RegExp(`\\b${field}\\(`).test(e));
  if (!example) throw new Error(`no README example of ${field}`);
  return example;
}

describe('the README', () => {
  it('every GraphQL example is valid against the committed schema', () => {
    const found = examples();
    expect(found.length).toBeGreaterThan(40);
    const invalid = found.flatMap((e) => {
      try {
        return validate(schema, parse(e)).map((error) => `${e}\n  → ${error.message}`);
      } catch (error) {
        return [`${e}\n  → ${(error as Error).message}`];
      }
    });
    expect(invalid).toEqual([]);
  });

  it("the verifyCertificate example selects every field the offline-check snippet reads", () => {
    const snippet = /const \{([^}]*)\} = certificate; \/\/ from verifyCertificate/.exec(README);
    expect(snippet).not.toBeNull();
    const read = snippet![1]!.split(',').map((f) => f.trim());
    const selection = selectionOf('verifyCertificate');
    expect(read.filter((f) => !new RegExp(`\\b${f}\\b`).test(selection))).toEqual([]);
  });

  it("the catalog example shows the lesson ids that startLesson takes", () => {
    expect(selectionOf('courses')).toMatch(/syllabus \{ rowId\b/);
  });

  it("the example certificate number's check character is right", () => {
    const body = '7K3PQ9XD2M4T';
    const digits = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const value = [...body].reduce((v, c) => v * 32n + BigInt(digits.indexOf(c)), 0n);
    const number = `CB-7K3P-Q9XD-2M4T-${`${digits}*~$=U`[Number(value % 37n)]}`;
    expect(README).toContain(`the value is ${value}`);
    expect(selectionOf('verifyCertificate')).toContain(`"${number}"`);
  });

  it('says up front how many EBADENGINE notices npm ci prints on Node 20, and the count is true', () => {
    const lock = JSON.parse(fs.readFileSync(projectPath('package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } }>;
    };
    // The lock's ranges are alternatives such as ">=22", ">= 12.*", "^20.0.0" and "18"; a new shape must be taught here.
    const admitsNode20 = (range: string) =>
      range.split('||').some((alternative) => {
        const match = /^(>=|\^|~)?\s*(\d+)(?:\.(?:\d+|\*|x))*$/.exec(alternative.trim());
        if (!match) throw new Error(`unexpected engines.node range: ${range}`);
        return match[1] === '>=' ? Number(match[2]) <= 20 : Number(match[2]) === 20;
      });
    const needsNewerThan20 = Object.values(lock.packages).filter(({ engines }) => engines?.node && !admitsNode20(engines.node)).length;
    const firstRun = README.slice(0, README.indexOf('## Commands'));
    expect(firstRun).toContain(`On Node 20, \`npm ci\` prints ${needsNewerThan20} \`npm warn EBADENGINE`);
  });
});
