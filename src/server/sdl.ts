import { lexicographicSortSchema, printSchema } from 'postgraphile/graphql';
import type { PostGraphileInstance } from 'postgraphile';

/** The API as SDL, sorted, so that a reviewer sees every change to it as a diff. */
export async function printApiSchema(pgl: PostGraphileInstance): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await pgl.getSchema()))}\n`;
}
