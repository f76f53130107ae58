import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, Kind, parse, validate, type DocumentNode, type OperationDefinitionNode } from 'postgraphile/graphql';
import { projectPath } from '../../src/paths.ts';

/** README.md and every docs/*.md, by their path from the project root. */
const DOCUMENTS = new Map<string, string>(
  [
    'README.md',
    ...fs
      .readdirSync(projectPath('docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ].map((file) => [file, fs.readFileSync(projectPath(file), 'utf8')]),
);
const schema = buildSchema(fs.readFileSync(projectPath('schema.graphql'), 'utf8'));

function document(file: string): string {
  const text = DOCUMENTS.get(file);
  if (text === undefined) throw new Error(`no ${file}`);
  return text;
}

/** The ```graphql blocks of a document (fences may be indented inside a list item), with the indentation removed. */
function graphqlBlocks(text: string): string[] {
  return [...text.matchAll(/^( *)```graphql\n([\s\S]*?)^ *```/gm)].map(([, indent, body]) =>
    body!
      .split('\n')
      .map((line) => (line.startsWith(indent!) ? line.slice(indent!.length) : line))
      .join('\n'),
  );
}

interface Example {
  file: string;
  source: string;
  /** The operation alone (with any fragments of its block), so that a block of several anonymous operations validates one by one. */
  document: DocumentNode;
}

/** Every operation in a document's GraphQL blocks; a block that does not parse is reported as an example with no document. */
type Unparsed = { file: string; source: string; error: string };

function examples(file: string): Array<Example | Unparsed> {
  return graphqlBlocks(document(file)).flatMap((block): Array<Example | Unparsed> => {
    let parsed: DocumentNode;
    try {
      parsed = parse(block);
    } catch (error) {
      return [{ file, source: block, error: (error as Error).message }];
    }
    const fragments = parsed.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
    return parsed.definitions
      .filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
      .map((operation) => ({
        file,
        source: block.slice(operation.loc!.start, operation.loc!.end),
        document: { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] } as DocumentNode,
      }));
  });
}

function selectionOf(file: string, field: string): string {
  const example = examples(file).find((e) => new RegExp(`\\b${field}\\(`).test(e.source));
  if (!example) throw new Error(`no example of ${field} in ${file}`);
  return example.source;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

describe('the documents (README.md and docs/)', () => {
  it('every GraphQL example is valid against the committed schema, operation by operation', () => {
    const all = [...DOCUMENTS.keys()].flatMap(examples);
    expect(all.length).toBeGreaterThan(40);
    const invalid = all.flatMap((e) => {
      if ('error' in e) return [`${e.file}: ${e.source}\n  → ${e.error}`];
      return validate(schema, e.document).map((error) => `${e.file}: ${e.source}\n  → ${error.message}`);
    });
    expect(invalid).toEqual([]);
  });

  it('each domain document shows its operations', () => {
    for (const file of ['docs/identity.md', 'docs/catalog.md', 'docs/learning.md', 'docs/quizzes.md', 'docs/certificates.md']) {
      expect([file, examples(file).length > 0]).toEqual([file, true]);
    }
  });

  it('every relative link and anchor points at a document and heading that exist', () => {
    const broken: string[] = [];
    for (const [file, text] of DOCUMENTS) {
      const prose = text.replace(/^ *```[\s\S]*?^ *```/gm, '');
      for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [linked, hash] = target!.split('#') as [string, string | undefined];
        const targetFile = linked === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), linked));
        const targetText = DOCUMENTS.get(targetFile) ?? (fs.existsSync(projectPath(targetFile)) ? '' : undefined);
        if (targetText === undefined) broken.push(`${file}: ${target} (no such file)`);
        else if (hash !== undefined) {
          const anchors = [...targetText.matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1]!));
          if (!anchors.includes(hash)) broken.push(`${file}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README links every document in docs/', () => {
    const readme = document('README.md');
    const unlinked = [...DOCUMENTS.keys()].filter((file) => file.startsWith('docs/') && !readme.includes(`](${file})`));
    expect(unlinked).toEqual([]);
  });

  it('no line of prose is over 400 characters', () => {
    const long = [...DOCUMENTS].flatMap(([file, text]) =>
      text
        .split('\n')
        .filter((line) => line.length > 400)
        .map((line) => `${file}: ${line.slice(0, 80)}…`),
    );
    expect(long).toEqual([]);
  });
});

describe('the README', () => {
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
    const readme = document('README.md');
    const firstRun = readme.slice(0, readme.indexOf('## Commands'));
    expect(firstRun).toContain(`On Node 20, \`npm ci\` prints ${needsNewerThan20} \`npm warn EBADENGINE`);
  });
});

describe('docs/catalog.md', () => {
  it('the courses example shows the lesson ids that startLesson takes', () => {
    expect(selectionOf('docs/catalog.md', 'courses')).toMatch(/syllabus \{ rowId\b/);
  });
});

describe('docs/certificates.md', () => {
  const certificates = document('docs/certificates.md');

  it('the verifyCertificate example selects every field the offline-check snippet reads', () => {
    const snippet = /const \{([^}]*)\} = certificate; \/\/ from verifyCertificate/.exec(certificates);
    expect(snippet).not.toBeNull();
    const read = snippet![1]!.split(',').map((f) => f.trim());
    const selection = selectionOf('docs/certificates.md', 'verifyCertificate');
    expect(read.filter((f) => !new RegExp(`\\b${f}\\b`).test(selection))).toEqual([]);
  });

  it("the example certificate number's check character is right", () => {
    const body = '7K3PQ9XD2M4T';
    const digits = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const value = [...body].reduce((v, c) => v * 32n + BigInt(digits.indexOf(c)), 0n);
    const number = `CB-7K3P-Q9XD-2M4T-${`${digits}*~$=U`[Number(value % 37n)]}`;
    expect(certificates).toContain(`the value is ${value}`);
    expect(selectionOf('docs/certificates.md', 'verifyCertificate')).toContain(`"${number}"`);
  });
});
