import path from 'node:path';
import { parseSigningKey } from './certificates/keys.ts';

export const DEV_JWT_SECRET = 'coursebase-development-jwt-secret-do-not-use-in-production';
/** Development-only Ed25519 key (PKCS#8 DER, base64) for certificate signatures; production refuses it. */
export const DEV_CERT_SIGNING_KEY = 'MC4CAQAwBQYDK2VwBCIEICiaeJnzGOYx3IjyqEZIz8w8Ds7b8XL2Df2oSbnVeGQl';
export const DEV_CERT_KEY_ID = 'dev-2026';
/** Development-only Stripe webhook signing secret (the development checkout signs with it); production refuses it. */
export const DEV_STRIPE_WEBHOOK_SECRET = 'whsec_coursebase_development_only';

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly isProduction: boolean;
  /** Owner (or, in development, superuser) connection; unset means the embedded database. */
  readonly databaseUrl: string | undefined;
  readonly authDatabaseUrl: string | undefined;
  readonly rootDatabaseUrl: string | undefined;
  readonly shadowDatabaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPgPort: number;
  readonly port: number;
  readonly publicUrl: string;
  /** Where the verification and password-reset emails link: this server's own pages, or a client app's. */
  readonly appUrl: string;
  readonly demoData: boolean;
  readonly mailOutbox: string;
  readonly smtpUrl: string | undefined;
  /** Where mail goes: over SMTP (SMTP_URL), or to .eml files in the outbox (LMS_MAIL_TRANSPORT). */
  readonly mailTransport: 'smtp' | 'outbox';
  readonly mailFrom: string;
  readonly jwtSecret: string;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly corsOrigins: readonly string[];
  readonly workerConcurrency: number;
  /** How often a worker pool records its heartbeat (lms_private.worker_heartbeats). */
  readonly workerHeartbeatSeconds: number;
  /** A pool silent for this long is taken for dead, and another worker releases its jobs. */
  readonly workerStaleSeconds: number;
  /** On SIGTERM, how long the API keeps accepting (answering /healthz 503) so that a load balancer sees it drain. */
  readonly shutdownDrainSeconds: number;
  /** Then how long in-flight requests may take before their connections are closed. */
  readonly shutdownGraceSeconds: number;
  /** bcrypt cost for new password hashes; at least 10 in production. */
  readonly bcryptCost: number;
  readonly accessTokenSeconds: number;
  readonly refreshTokenDays: number;
  /** A session's absolute lifetime, however often it is refreshed. */
  readonly sessionMaxDays: number;
  /** How long a just-rotated refresh token answers "already rotated" rather than counting as reuse. */
  readonly refreshReuseIntervalSeconds: number;
  /** How long after a quiz deadline a submission is still accepted. */
  readonly quizGraceSeconds: number;
  /** Stripe's secret API key; unset outside production means the development checkout. */
  readonly stripeSecretKey: string | undefined;
  /** The secret that Stripe's webhook signatures are checked with. */
  readonly stripeWebhookSecret: string;
  /** A local fake Stripe API for the `stripe` client (host, port, protocol), instead of api.stripe.com. */
  readonly stripeApiBase: URL | undefined;
  /** How many days a past_due subscription keeps its access (LMS_PAST_DUE_GRACE_DAYS). */
  readonly pastDueGraceDays: number;
  /** Ed25519 private key for certificate signatures: PKCS#8, PEM or base64 DER. */
  readonly certSigningKey: string;
  readonly certKeyId: string;
  /** Express's `trust proxy`: false, a hop count, or the proxies' addresses (LMS_TRUST_PROXY). */
  readonly trustProxy: false | number | readonly string[];
  /** Whether GraphQL introspection is answered; off by default in production. */
  readonly introspection: boolean;
  readonly limits: OperationLimits;
  readonly timeouts: Timeouts;
  /** Identity operations (bcrypt in SQL) running at once; more wait their turn. */
  readonly maxConcurrentCredentialChecks: number;
  /** Days of base backups and archived WAL the daily backup job keeps (the newest backup always stays). */
  readonly backupRetentionDays: number;
}

/** Bounds on one GraphQL operation, checked before it is planned (docs/limits.md). */
export interface OperationLimits {
  readonly maxTokens: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  /** Fields in the operation once every fragment spread is expanded. */
  readonly maxExpandedFields: number;
  /** Fields weighted by the page size of every connection around them. */
  readonly maxCost: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
}

/** Milliseconds; 0 switches a timeout off. */
export interface Timeouts {
  readonly statement: number;
  readonly lock: number;
  readonly idleInTransaction: number;
  /** The worker's statements: PDF and email jobs may legitimately run longer. */
  readonly workerStatement: number;
  readonly planning: number;
  readonly execution: number;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n- ${problems.join('\n- ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parsePort(name: string, value: string | undefined, fallback: number, problems: string[], min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > 65535) {
    problems.push(`${name} must be a TCP port (${min}-65535), got "${value}"`);
    return fallback;
  }
  return n;
}

function parseBool(name: string, value: string | undefined, fallback: boolean, problems: string[]): boolean {
  if (value === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  problems.push(`${name} must be true or false, got "${value}"`);
  return fallback;
}

function parseInteger(name: string, value: string | undefined, fallback: number, min: number, max: number, problems: string[]): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return fallback;
  }
  return n;
}

function parseTrustProxy(value: string | undefined, problems: string[]): Config['trustProxy'] {
  if (value === undefined || /^(0|false|none)$/i.test(value)) return false;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0 || entries.some((e) => !/^[0-9a-f.:/]+$/i.test(e) && !['loopback', 'linklocal', 'uniquelocal'].includes(e))) {
    problems.push(`LMS_TRUST_PROXY must be a hop count or a comma-separated list of proxy addresses or subnets, got "${value}"`);
    return false;
  }
  return entries;
}

function parseUrl(name: string, value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  try {
    new URL(value);
    return value;
  } catch {
    problems.push(`${name} is not a valid URL`);
    return undefined;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const nodeEnv = nonEmpty(env.NODE_ENV) ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    problems.push(`NODE_ENV must be development, test or production, got "${nodeEnv}"`);
  }
  const isProduction = nodeEnv === 'production';
  const int = (name: string, fallback: number, min: number, max: number) => parseInteger(name, nonEmpty(env[name]), fallback, min, max, problems);

  const databaseUrl = parseUrl('DATABASE_URL', nonEmpty(env.DATABASE_URL), problems);
  const dataDir = path.resolve(nonEmpty(env.LMS_DATA_DIR) ?? '.data');
  // PORT=0 takes any free port; the start-up log names it.
  const port = parsePort('PORT', nonEmpty(env.PORT), 5678, problems, 0);
  const jwtSecret = nonEmpty(env.JWT_SECRET) ?? DEV_JWT_SECRET;
  const concurrency = parseInteger('LMS_WORKER_CONCURRENCY', nonEmpty(env.LMS_WORKER_CONCURRENCY), 4, 1, 100, problems);
  const bcryptCost = parseInteger('LMS_BCRYPT_COST', nonEmpty(env.LMS_BCRYPT_COST), 12, 4, 15, problems);

  const stripeSecretKey = nonEmpty(env.STRIPE_SECRET_KEY);
  const stripeWebhookSecret = nonEmpty(env.STRIPE_WEBHOOK_SECRET) ?? DEV_STRIPE_WEBHOOK_SECRET;
  const stripeApiBaseText = parseUrl('STRIPE_API_BASE', nonEmpty(env.STRIPE_API_BASE), problems);
  const certSigningKey = nonEmpty(env.LMS_CERT_SIGNING_KEY) ?? DEV_CERT_SIGNING_KEY;
  try {
    parseSigningKey(certSigningKey);
  } catch {
    problems.push('LMS_CERT_SIGNING_KEY must be an Ed25519 private key, PKCS#8 as PEM or base64 DER');
  }
  if (Buffer.byteLength(jwtSecret, 'utf8') < 32) {
    problems.push('JWT_SECRET must be at least 32 bytes');
  }
  if (isProduction) {
    if (databaseUrl === undefined) {
      problems.push('production requires DATABASE_URL; the embedded database is for development only');
    }
    if (jwtSecret === DEV_JWT_SECRET) {
      problems.push('production refuses the development JWT_SECRET; set your own');
    }
    if (certSigningKey === DEV_CERT_SIGNING_KEY) {
      problems.push('production refuses the development LMS_CERT_SIGNING_KEY; set your own Ed25519 key');
    }
    if (stripeSecretKey === undefined) {
      problems.push('production requires STRIPE_SECRET_KEY; the development checkout is for development only');
    }
    if (stripeWebhookSecret === DEV_STRIPE_WEBHOOK_SECRET) {
      problems.push('production refuses the development STRIPE_WEBHOOK_SECRET; set the signing secret of your Stripe webhook endpoint');
    }
    if (bcryptCost < 10) {
      problems.push('production requires LMS_BCRYPT_COST of at least 10');
    }
    if (env.LMS_DEMO_DATA !== undefined && parseBool('LMS_DEMO_DATA', env.LMS_DEMO_DATA, false, problems)) {
      problems.push('production never seeds demo data; unset LMS_DEMO_DATA');
    }
  }

  const publicUrl = (parseUrl('LMS_PUBLIC_URL', nonEmpty(env.LMS_PUBLIC_URL), problems) ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const certKeyId = nonEmpty(env.LMS_CERT_KEY_ID) ?? DEV_CERT_KEY_ID;
  const corsOrigins = (nonEmpty(env.LMS_CORS_ORIGINS) ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  const smtpUrl = parseUrl('SMTP_URL', nonEmpty(env.SMTP_URL), problems);
  const mailSetting = nonEmpty(env.LMS_MAIL_TRANSPORT);
  if (mailSetting !== undefined && mailSetting !== 'smtp' && mailSetting !== 'outbox') {
    problems.push(`LMS_MAIL_TRANSPORT must be smtp or outbox, got "${mailSetting}"`);
  }
  const mailTransport: Config['mailTransport'] = mailSetting === 'outbox' || (mailSetting !== 'smtp' && smtpUrl === undefined) ? 'outbox' : 'smtp';
  if (mailSetting === 'smtp' && smtpUrl === undefined && nonEmpty(env.SMTP_URL) === undefined) {
    problems.push('LMS_MAIL_TRANSPORT=smtp needs SMTP_URL');
  }
  if (isProduction) {
    // Certificates are immutable and emails are kept: a localhost URL signed into them stays wrong forever.
    if (nonEmpty(env.LMS_PUBLIC_URL) === undefined) {
      problems.push('production requires LMS_PUBLIC_URL, the base URL signed into certificates and emails');
    }
    if (certKeyId === DEV_CERT_KEY_ID) {
      problems.push(`production refuses the development LMS_CERT_KEY_ID (${DEV_CERT_KEY_ID}); name your own key`);
    }
    if (corsOrigins.includes('*')) {
      problems.push('production refuses a wildcard origin in LMS_CORS_ORIGINS; list the origins');
    }
    if (smtpUrl === undefined && mailSetting !== 'outbox') {
      problems.push('production requires SMTP_URL, unless LMS_MAIL_TRANSPORT=outbox says mail is meant for the outbox');
    }
  }

  const config: Config = {
    env: nodeEnv as Config['env'],
    isProduction,
    databaseUrl,
    authDatabaseUrl: parseUrl('AUTH_DATABASE_URL', nonEmpty(env.AUTH_DATABASE_URL), problems),
    rootDatabaseUrl: parseUrl('ROOT_DATABASE_URL', nonEmpty(env.ROOT_DATABASE_URL), problems),
    shadowDatabaseUrl: parseUrl('SHADOW_DATABASE_URL', nonEmpty(env.SHADOW_DATABASE_URL), problems),
    dataDir,
    embeddedPgPort: parsePort('LMS_EMBEDDED_PG_PORT', nonEmpty(env.LMS_EMBEDDED_PG_PORT), 54329, problems),
    port,
    publicUrl,
    appUrl: (parseUrl('LMS_APP_URL', nonEmpty(env.LMS_APP_URL), problems) ?? publicUrl).replace(/\/+$/, ''),
    demoData: isProduction ? false : parseBool('LMS_DEMO_DATA', nonEmpty(env.LMS_DEMO_DATA), databaseUrl === undefined, problems),
    mailOutbox: path.resolve(nonEmpty(env.LMS_MAIL_OUTBOX) ?? path.join(dataDir, 'outbox')),
    smtpUrl,
    mailTransport,
    mailFrom: nonEmpty(env.LMS_MAIL_FROM) ?? 'Coursebase <no-reply@coursebase.invalid>',
    jwtSecret,
    jwtIssuer: nonEmpty(env.LMS_JWT_ISSUER) ?? 'coursebase',
    jwtAudience: nonEmpty(env.LMS_JWT_AUDIENCE) ?? 'coursebase-api',
    corsOrigins,
    workerConcurrency: concurrency,
    workerHeartbeatSeconds: int('LMS_WORKER_HEARTBEAT_SECONDS', 10, 1, 300),
    workerStaleSeconds: int('LMS_WORKER_STALE_SECONDS', 60, 3, 86_400),
    shutdownDrainSeconds: int('LMS_SHUTDOWN_DRAIN_SECONDS', 0, 0, 600),
    shutdownGraceSeconds: int('LMS_SHUTDOWN_GRACE_SECONDS', 10, 0, 600),
    bcryptCost,
    accessTokenSeconds: 15 * 60,
    refreshTokenDays: parseInteger('LMS_REFRESH_TOKEN_DAYS', nonEmpty(env.LMS_REFRESH_TOKEN_DAYS), 30, 1, 365, problems),
    sessionMaxDays: parseInteger('LMS_SESSION_MAX_DAYS', nonEmpty(env.LMS_SESSION_MAX_DAYS), 90, 1, 3650, problems),
    refreshReuseIntervalSeconds: parseInteger('LMS_REFRESH_REUSE_INTERVAL_SECONDS', nonEmpty(env.LMS_REFRESH_REUSE_INTERVAL_SECONDS), 10, 0, 300, problems),
    quizGraceSeconds: parseInteger('LMS_QUIZ_GRACE_SECONDS', nonEmpty(env.LMS_QUIZ_GRACE_SECONDS), 30, 0, 3600, problems),
    stripeSecretKey,
    stripeWebhookSecret,
    stripeApiBase: stripeApiBaseText === undefined ? undefined : new URL(stripeApiBaseText),
    pastDueGraceDays: parseInteger('LMS_PAST_DUE_GRACE_DAYS', nonEmpty(env.LMS_PAST_DUE_GRACE_DAYS), 3, 0, 60, problems),
    certSigningKey,
    certKeyId,
    trustProxy: parseTrustProxy(nonEmpty(env.LMS_TRUST_PROXY), problems),
    introspection: parseBool('LMS_INTROSPECTION', nonEmpty(env.LMS_INTROSPECTION), !isProduction, problems),
    limits: {
      maxTokens: int('LMS_MAX_TOKENS', 2000, 50, 100_000),
      maxDepth: int('LMS_MAX_DEPTH', 12, 2, 100),
      maxAliases: int('LMS_MAX_ALIASES', 30, 0, 100_000),
      maxDirectives: int('LMS_MAX_DIRECTIVES', 20, 0, 100_000),
      maxExpandedFields: int('LMS_MAX_EXPANDED_FIELDS', 1000, 10, 1_000_000),
      maxCost: int('LMS_MAX_COST', 50_000, 10, 100_000_000),
      defaultPageSize: int('LMS_DEFAULT_PAGE_SIZE', 100, 1, 10_000),
      maxPageSize: int('LMS_MAX_PAGE_SIZE', 100, 1, 10_000),
    },
    timeouts: {
      statement: int('LMS_STATEMENT_TIMEOUT_MS', 10_000, 0, 3_600_000),
      lock: int('LMS_LOCK_TIMEOUT_MS', 5_000, 0, 3_600_000),
      idleInTransaction: int('LMS_IDLE_IN_TRANSACTION_TIMEOUT_MS', 30_000, 0, 3_600_000),
      workerStatement: int('LMS_WORKER_STATEMENT_TIMEOUT_MS', 300_000, 0, 86_400_000),
      planning: int('LMS_PLANNING_TIMEOUT_MS', 500, 10, 60_000),
      execution: int('LMS_EXECUTION_TIMEOUT_MS', 15_000, 100, 3_600_000),
    },
    maxConcurrentCredentialChecks: int('LMS_MAX_CONCURRENT_CREDENTIAL_CHECKS', 2, 1, 64),
    backupRetentionDays: int('LMS_BACKUP_RETENTION_DAYS', 7, 1, 3650),
  };
  // A live pool must never look dead between two beats, even with one beat lost to a slow database.
  if (config.workerStaleSeconds < 3 * config.workerHeartbeatSeconds) {
    problems.push('LMS_WORKER_STALE_SECONDS must be at least three times LMS_WORKER_HEARTBEAT_SECONDS');
  }
  if (config.limits.defaultPageSize > config.limits.maxPageSize) {
    problems.push('LMS_DEFAULT_PAGE_SIZE must not be over LMS_MAX_PAGE_SIZE');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
