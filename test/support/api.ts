import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { loadConfig, type Config } from '../../src/config.ts';
import { createApi, type Api } from '../../src/server/app.ts';
import { makeApiPools } from '../../src/db/pools.ts';
import type { TestDatabase, TestUser } from './db.ts';

export interface TestApi {
  readonly url: string;
  readonly api: Api;
  readonly config: Config;
  /** POSTs a GraphQL operation as a real client would; returns the HTTP status and JSON body. */
  graphql(query: string, options?: { variables?: Record<string, unknown>; token?: string }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export function testConfig(db: Pick<TestDatabase, 'rootUrl'>, env: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.rootUrl, ...env });
}

/** Signs an access token the way the API expects one. */
export function accessToken(config: Config, user: TestUser, overrides: jwt.SignOptions = {}): string {
  return jwt.sign({ role: user.role }, config.jwtSecret, {
    algorithm: 'HS256',
    subject: user.id,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    expiresIn: '15m',
    jwtid: randomUUID(),
    ...overrides,
  });
}

/** The Express app with PostGraphile, listening on a free port, connected as the authenticator. */
export async function startTestApi(db: TestDatabase, options: { authUrl?: string; env?: Record<string, string> } = {}): Promise<TestApi> {
  const config = testConfig(db, options.env);
  const pools = makeApiPools(config, options.authUrl ?? db.authUrl, () => {}, { graphql: 4, session: 2 });
  const api = createApi(config, pools);
  const server = http.createServer(api.app);
  await api.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    api,
    config,
    async graphql(query, { variables, token } = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      api.availability.close();
      await api.pgl.release();
      await pools.end();
    },
  };
}

/** A fresh Ed25519 key in the form LMS_CERT_SIGNING_KEY takes, for tests that pose as production. */
export function freshSigningKey(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}
