import fs from 'node:fs';
import path from 'node:path';
import { projectPath, projectRoot } from '../../src/paths.ts';

/*
 * The Node layers depend one way: bin/ composes src/ and worker/; worker/ uses shared modules of
 * src/; src/ knows neither; bench/ uses src/ only; test/ may use anything. A static scan of the
 * import statements (type-only ones too: they tie the modules together just the same).
 */

/** What each top-level folder may import from, besides itself and packages. */
const ALLOWED: Record<string, string[]> = {
  src: [],
  worker: ['src'],
  bin: ['src', 'worker'],
  bench: ['src'],
};

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The project files a module imports, as paths relative to the checkout. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.relative(projectRoot, path.resolve(path.dirname(file), s)));
}

const graph = new Map<string, string[]>(
  Object.keys(ALLOWED)
    .flatMap((top) => tsFiles(projectPath(top)))
    .map((file) => [path.relative(projectRoot, file), importsOf(file)]),
);

const topOf = (file: string) => file.split(path.sep)[0]!;

it('scans every layer', () => {
  for (const top of Object.keys(ALLOWED)) expect([...graph.keys()].filter((f) => topOf(f) === top).length).toBeGreaterThan(1);
});

it('imports run one way between the top-level folders', () => {
  const forbidden = [...graph].flatMap(([file, imports]) =>
    imports.filter((target) => topOf(target) !== topOf(file) && !ALLOWED[topOf(file)]!.includes(topOf(target))).map((target) => `${file} → ${target}`),
  );
  expect(forbidden).toEqual([]);
});

it('no modules import each other in a cycle', () => {
  const cycles: string[] = [];
  const done = new Set<string>();
  const visit = (file: string, trail: string[]) => {
    const at = trail.indexOf(file);
    if (at >= 0) return void cycles.push([...trail.slice(at), file].join(' → '));
    if (done.has(file)) return;
    for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
  expect(cycles).toEqual([]);
});
