import pg from 'pg';
import type { Config } from '../config.ts';

/** Development-only passwords for the derived role connections; production sets its own. */
export const DEV_ROLE_PASSWORDS = {
  lms_owner: 'coursebase_owner_dev',
  lms_authenticator: 'coursebase_authenticator_dev',
} as const;

export interface Connections {
  /** Superuser or CREATEROLE connection for the role bootstrap; absent when we have none. */
  readonly rootUrl: string | undefined;
  /** Owns the objects: migrations and the worker. */
  readonly ownerUrl: string;
  /** The API's connection (LOGIN NOINHERIT), which switches to a visitor role per request. */
  readonly authUrl: string;
  /** graphile-migrate's shadow database, for `commit` and `watch`. */
  readonly shadowUrl: string | undefined;
  /** Whether to set the development passwords on the derived roles. */
  readonly devPasswords: boolean;
}

export function withCredentials(url: string, user: string, password: string, database?: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  if (database !== undefined) u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

async function isSuperuser(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolsuper: boolean }>('select rolsuper from pg_roles where rolname = current_user');
    return rows[0]?.rolsuper === true;
  } finally {
    await client.end();
  }
}

function derived(rootUrl: string, shadowUrl: string | undefined): Connections {
  return {
    rootUrl,
    ownerUrl: withCredentials(rootUrl, 'lms_owner', DEV_ROLE_PASSWORDS.lms_owner),
    authUrl: withCredentials(rootUrl, 'lms_authenticator', DEV_ROLE_PASSWORDS.lms_authenticator),
    shadowUrl: shadowUrl ?? withCredentials(rootUrl, 'lms_owner', DEV_ROLE_PASSWORDS.lms_owner, `${databaseName(rootUrl)}_shadow`),
    devPasswords: true,
  };
}

/**
 * Works out which connection does what.
 * - Embedded database, or a development DATABASE_URL that is a superuser: that connection
 *   bootstraps the roles, and the owner and authenticator connections are derived from it.
 * - Otherwise DATABASE_URL is the owner, AUTH_DATABASE_URL the authenticator, and
 *   ROOT_DATABASE_URL (optional) bootstraps the roles.
 */
export async function resolveConnections(config: Config, embeddedSuperuserUrl?: string): Promise<Connections> {
  if (embeddedSuperuserUrl !== undefined) return derived(embeddedSuperuserUrl, config.shadowDatabaseUrl);
  const databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) throw new Error('DATABASE_URL is not set and no embedded database is running');
  if (!config.isProduction && config.authDatabaseUrl === undefined && (await isSuperuser(databaseUrl))) {
    return derived(databaseUrl, config.shadowDatabaseUrl);
  }
  if (config.authDatabaseUrl === undefined) {
    throw new Error('AUTH_DATABASE_URL is required when DATABASE_URL is not a development superuser');
  }
  return {
    rootUrl: config.rootDatabaseUrl,
    ownerUrl: databaseUrl,
    authUrl: config.authDatabaseUrl,
    shadowUrl: config.shadowDatabaseUrl,
    devPasswords: false,
  };
}
