import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import type pg from 'pg';
import { postgraphile, type PostGraphileInstance } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { Config } from '../config.ts';
import { logger } from '../log.ts';
import { sendError } from '../errors.ts';
import { authenticate } from './auth.ts';
import { rateLimit } from './rate-limit.ts';
import { parseGraphQLRequest } from './graphql-request.ts';
import { certificatePages } from './certificate-pages.ts';
import { emailPages } from './email-pages.ts';
import { GRAPHIQL_PATH, GRAPHQL_PATH, MAX_BODY_BYTES, makePreset } from './preset.ts';
import { makeStripe } from '../payments/stripe.ts';
import { stripeWebhook } from '../payments/webhook.ts';
import { DATABASE_RETRY_AFTER_SECONDS, DatabaseAvailability, isConnectionError, requireDatabase, sendDatabaseUnavailable } from './availability.ts';

export interface Api {
  readonly app: express.Express;
  readonly pgl: PostGraphileInstance;
  readonly availability: DatabaseAvailability;
  /** Requests being answered right now. */
  readonly inFlight: () => number;
  /** From now on /healthz answers 503 and every response closes its connection (SIGTERM's first step). */
  drain(): void;
  /** Attaches grafserv's upgrade handlers (none today) to the listening server. */
  attach(server: import('node:http').Server): Promise<void>;
}

async function databaseAnswers(pool: pg.Pool, timeoutMs: number, onError: (error: unknown) => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const probe = pool.query('select 1').then(
    () => true,
    (error: unknown) => {
      onError(error);
      return false;
    },
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const log = logger('api');

/** The API's connections, both as the authenticator. */
export interface ApiPools {
  /** GraphQL operations and the certificate pages. */
  readonly graphql: pg.Pool;
  /** Small and separate: the per-request session check and the rate limiter. */
  readonly session: pg.Pool;
  /** The health check's own connection. */
  readonly health: pg.Pool;
}

export function createApi(config: Config, pools: ApiPools): Api {
  const availability = new DatabaseAvailability(pools.health, log);
  // A dying server cuts every idle connection at once: the first cut marks it down, the rest say nothing.
  for (const pool of [pools.graphql, pools.session, pools.health]) pool.on('error', (error) => availability.failed(error));
  const pgl = postgraphile(makePreset(config, pools.graphql, (error) => availability.failed(error)));
  const serv = pgl.createServ(grafserv);
  const app = express();
  app.disable('x-powered-by');

  let draining = false;
  const inFlight = new Set<Response>();
  // Keep-alive clients learn to reconnect (to another process) after a response sent while draining.
  const closeAfter = (res: Response) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };
  app.use((_req, res, next) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (draining) closeAfter(res);
    next();
  });
  // Only proxies named by the operator may say who the client is (X-Forwarded-For).
  app.set('trust proxy', config.trustProxy === false ? false : Array.isArray(config.trustProxy) ? [...config.trustProxy] : config.trustProxy);

  const strict = helmet();
  // Ruru (GraphiQL, development only) runs inline scripts that a strict CSP would block.
  const forGraphiql = helmet({ contentSecurityPolicy: false });
  app.use((req, res, next) => (req.path === GRAPHIQL_PATH ? forGraphiql : strict)(req, res, next));
  app.use(cors({ origin: [...config.corsOrigins], methods: ['GET', 'POST'], maxAge: 600 }));

  app.get('/healthz', async (_req, res) => {
    if (draining) {
      res.status(503).json({ status: 'draining', errors: [{ message: 'This process is shutting down.', extensions: { code: 'SHUTTING_DOWN' } }] });
      return;
    }
    const up = await databaseAnswers(pools.health, 2000, (error) => availability.failed(error));
    if (up) {
      availability.answered();
      res.json({ status: 'ok', database: 'up' });
      return;
    }
    res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    res.status(503).json({
      status: 'unavailable',
      database: 'down',
      errors: [{ message: 'The database is unavailable; retry shortly.', extensions: { code: 'DATABASE_UNAVAILABLE' } }],
    });
  });

  // Everything below needs the database.
  app.use(requireDatabase(availability, pools.graphql));
  // Stripe's events, signed: the raw body is read here, before any JSON parser sees it.
  app.use(stripeWebhook(config, makeStripe(config), pools.graphql));

  // Public: anyone holding a number may check it, without an account.
  app.use(certificatePages(config, pools.graphql));
  // Public: where the verification and password-reset emails link (unless LMS_APP_URL points elsewhere).
  app.use(emailPages(config, pools.graphql));

  app.use(
    GRAPHQL_PATH,
    express.json({ limit: MAX_BODY_BYTES }),
    parseGraphQLRequest(config.limits),
    rateLimit(pools.session, { maxConcurrent: config.maxConcurrentCredentialChecks, maxQueued: 100 }),
    authenticate(config, pools.session),
  );

  return {
    app,
    pgl,
    availability,
    inFlight: () => inFlight.size,
    drain() {
      draining = true;
      // Requests that arrived before, whose responses are not yet under way, close too.
      for (const res of inFlight) closeAfter(res);
    },
    async attach(server) {
      await serv.addTo(app, server);
      app.use((_req: Request, res: Response) => {
        sendError(res, 'NOT_FOUND', 'No such route.');
      });
      app.use((error: { type?: string }, _req: Request, res: Response, next: NextFunction) => {
        if (res.headersSent) return next(error);
        if (error.type === 'entity.too.large') {
          sendError(res, 'PAYLOAD_TOO_LARGE', `The request body is over ${MAX_BODY_BYTES} bytes.`);
        } else if (error.type === 'entity.parse.failed') {
          sendError(res, 'BAD_REQUEST', 'The request body is not valid JSON.');
        } else if (isConnectionError(error)) {
          // The session check or the rate limiter found the database gone.
          availability.failed(error);
          sendDatabaseUnavailable(res);
        } else {
          const id = randomUUID();
          log(`unhandled error ${id}: ${error instanceof Error ? error.stack : inspect(error)}`);
          sendError(res, 'INTERNAL_ERROR', `An unexpected error occurred (id ${id}).`);
        }
      });
    },
  };
}
