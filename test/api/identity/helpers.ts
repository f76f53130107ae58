import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { generate } from 'otplib';
import type { TestApi } from '../../support/api.ts';
import type { TestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';
import { PASSWORD } from '../../support/fixtures.ts';

export type GqlResult = { status: number; body: any };
export interface Session {
  accessToken: string;
  refreshToken: string;
}

export { PASSWORD };

export function uniqueEmail(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}@example.test`;
}

/** Lifts the SQL rate limits so that one file's many logins from 127.0.0.1 are not refused. */
export async function liftRateLimits(db: TestDatabase): Promise<void> {
  await db.root.query('update lms_private.rate_limits set max_hits = 100000');
}

export function errorCode(res: GqlResult): string | undefined {
  return res.body.errors?.[0]?.extensions?.code;
}

/** Asserts a GraphQL-level error with this code (HTTP 200, no data for the field). */
export function expectGraphqlError(res: GqlResult, code: string): void {
  expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 200, code });
}

export function expectOk(res: GqlResult): any {
  expect({ status: res.status, errors: res.body.errors }).toEqual({ status: 200, errors: undefined });
  return res.body.data;
}

export const Q = {
  register: `mutation($email: String!, $password: String!, $fullName: String!) {
    register(input: {email: $email, password: $password, fullName: $fullName}) { user { rowId email fullName role } } }`,
  login: `mutation($email: String!, $password: String!, $mfaCode: String) {
    login(input: {email: $email, password: $password, mfaCode: $mfaCode}) { accessToken refreshToken } }`,
  refresh: `mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken refreshToken } }`,
  logout: `mutation($t: String!) { logout(input: {refreshToken: $t}) { success } }`,
  logoutEverywhere: `mutation { logoutEverywhere(input: {}) { success } }`,
  me: `{ currentUser { rowId email fullName role mfaEnabled emailVerifiedAt } }`,
  setUserRole: `mutation($id: UUID!, $role: String!) { setUserRole(input: {userId: $id, role: $role}) { user { rowId role } } }`,
  setUserActive: `mutation($id: UUID!, $active: Boolean!) { setUserActive(input: {userId: $id, active: $active}) { user { rowId isActive } } }`,
  resetUserMfa: `mutation($id: UUID!) { resetUserMfa(input: {userId: $id}) { user { rowId mfaEnabled } } }`,
  // The schema names the order ROW_ID_DESC (the brief's ID_DESC does not exist; see audit-log.test.ts).
  securityEvents: `{ securityEvents(orderBy: ROW_ID_DESC) { nodes { eventType userId actorId details } } }`,
  changePassword: `mutation($current: String!, $next: String!) {
    changePassword(input: {currentPassword: $current, newPassword: $next}) { success } }`,
  enableMfa: `mutation { enableMfa(input: {}) { secret otpauthUrl qrCodeDataUrl } }`,
  confirmMfa: `mutation($code: String!) { confirmMfa(input: {code: $code}) { success recoveryCodes } }`,
  disableMfa: `mutation($code: String!) { disableMfa(input: {code: $code}) { success } }`,
};

export function register(api: TestApi, email: string, password = PASSWORD, fullName = 'Test Person'): Promise<GqlResult> {
  return api.graphql(Q.register, { variables: { email, password, fullName } });
}

export function login(api: TestApi, email: string, password = PASSWORD, mfaCode?: string): Promise<GqlResult> {
  return api.graphql(Q.login, { variables: { email, password, mfaCode } });
}

export function refresh(api: TestApi, refreshToken: string): Promise<GqlResult> {
  return api.graphql(Q.refresh, { variables: { t: refreshToken } });
}

/** Logs in and returns the session, failing the test when the login is refused. */
export async function signIn(api: TestApi, email: string, password = PASSWORD, mfaCode?: string): Promise<Session> {
  return expectOk(await login(api, email, password, mfaCode)).login;
}

/** Registers over HTTP and signs in; returns the user's id with the session. */
export async function newAccount(api: TestApi, prefix: string, password = PASSWORD): Promise<Session & { id: string; email: string }> {
  const email = uniqueEmail(prefix);
  const reg = expectOk(await register(api, email, password, `Person ${prefix}`));
  return { id: reg.register.user.rowId, email, ...(await signIn(api, email, password)) };
}

export function claimsOf(accessToken: string): Record<string, any> {
  return jwt.decode(accessToken) as Record<string, any>;
}

// --- Outbox: the .eml files that the worker writes when SMTP_URL is unset.

export interface Mail {
  file: string;
  to: string;
  subject: string;
  text: string;
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

export function parseEml(file: string, raw: string): Mail {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  let body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'quoted-printable') body = decodeQuotedPrintable(body);
  else if (encoding === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return {
    file,
    to: header('To')
      .replace(/^.*<(.*)>.*$/, '$1')
      .toLowerCase(),
    subject: header('Subject'),
    text: body,
  };
}

export async function readOutbox(dir: string): Promise<Mail[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.eml')).sort();
  return Promise.all(names.map(async (n) => parseEml(n, await fs.readFile(path.join(dir, n), 'utf8'))));
}

/** Waits for a not-yet-seen email to this address whose subject matches. */
export async function waitForMail(dir: string, to: string, subject: RegExp, seen: Set<string>): Promise<Mail> {
  const mail = await eventually(
    async () => (await readOutbox(dir)).find((m) => !seen.has(m.file) && m.to === to.toLowerCase() && subject.test(m.subject)),
    `an email "${subject}" to ${to}`,
  );
  seen.add(mail.file);
  return mail;
}

export function tokenInMail(mail: Mail): string {
  const match = /Or send this token to the \w+ mutation: ([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match) throw new Error(`no token in email:\n${mail.text}`);
  return match[1]!;
}

// --- TOTP.

/** The code of a time step relative to now (0 = current, 1 = next, -1 = previous). */
export function totp(secret: string, stepOffset = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * stepOffset });
}

/** A 6-digit code that matches none of the steps the server might accept. */
export async function wrongTotp(secret: string): Promise<string> {
  const near = new Set(await Promise.all([-2, -1, 0, 1, 2].map((o) => totp(secret, o))));
  return ['123456', '654321', '111111'].find((c) => !near.has(c))!;
}

/** Waits (at most `seconds`) until the current 30-second step has at least that long left. */
export async function awaitFreshTotpStep(seconds = 8): Promise<void> {
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < seconds) await new Promise((r) => setTimeout(r, left * 1000 + 100));
}
