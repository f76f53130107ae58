import express, { type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { logger } from '../log.ts';
import { withTransaction } from '../db/transaction.ts';
import { pgSettingsFor } from './auth.ts';
import { escapeHtml, htmlPage, sendHtml, strictCsp } from './html-page.ts';
import { clientKey } from './client-address.ts';

const CSP = strictCsp("'self'");
/** Tokens are 43 base64url characters; anything much longer is not one. */
const MAX_TOKEN_LENGTH = 200;
const log = logger('api');

type Outcome = { ok: true } | { ok: false; code: string };

function tokenFrom(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= MAX_TOKEN_LENGTH ? value : undefined;
}

/**
 * A form post must come from our own page. Chromium and Firefox send Sec-Fetch-Site; an Origin
 * header, when it names a site, must be ours ("null" is what no-referrer pages send). Beyond
 * this, the token in the form is itself the capability: a forged post cannot know it.
 */
function sameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = req.get('origin');
  return origin === undefined || origin === 'null' || origin === `${req.protocol}://${req.get('host')}`;
}

const form = (action: string, token: string, fields: string, button: string) => `<form method="post" action="${action}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
${fields}<button type="submit">${escapeHtml(button)}</button>
</form>`;

const PASSWORD_FIELDS = `<label for="password">New password (10 characters at least)</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="10" required>
<label for="confirm">The same password again</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" minlength="10" required>
`;

function notice(kind: 'valid' | 'revoked', title: string, message: string, extra = ''): string {
  return htmlPage(title, `<h1>${escapeHtml(title)}</h1>\n<p class="status ${kind}" id="status">${escapeHtml(message)}</p>\n${extra}`);
}

const verifyForm = (token: string) =>
  htmlPage(
    'Confirm your email address',
    `<h1>Confirm your email address</h1>
<p>Press the button to confirm that this email address is yours.</p>
${form('/verify-email', token, '', 'Confirm my email address')}`,
  );

const resetForm = (token: string, problem?: string) =>
  htmlPage(
    'Choose a new password',
    `<h1>Choose a new password</h1>
${problem ? `<p class="status revoked" id="status">${escapeHtml(problem)}</p>\n` : ''}<p>Every signed-in session ends when the password changes.</p>
${form('/reset-password', token, PASSWORD_FIELDS, 'Set the new password')}`,
  );

const BAD_LINK = notice('revoked', 'This link does not work', 'This link is invalid, already used or expired. Ask for a new email.');
const MISSING_TOKEN = notice('revoked', 'This link is incomplete', 'The link has no token: open it exactly as it is in the email.');
const CROSS_SITE = notice('revoked', 'Request refused', 'This form can only be sent from its own page.');
const TOO_MANY = notice('revoked', 'Too many attempts', 'Too many attempts from your address; try again in a few minutes.');

/**
 * The pages that the verification and password-reset emails link to. Opening a link changes
 * nothing (mail scanners prefetch links): the page shows a form that posts the token back, and
 * the post calls the SQL rule as the anonymous visitor, with the API's rate limits. No script,
 * no third-party resource, no-referrer: the token in the address goes nowhere else.
 */
export function emailPages(config: Config, pool: pg.Pool): express.Router {
  const router = express.Router();
  const body = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });

  /** Runs the rule as GraphQL would for an anonymous visitor: the same settings, role and rate limit. */
  async function call(action: 'verifyEmail' | 'resetPassword', ip: string | undefined, sql: string, params: string[]): Promise<Outcome | 'rate_limited'> {
    const { rows } = await pool.query<{ exceeded: string | null }>('select lms_private.consume_rate_limit($1, $2) as exceeded', [[action], clientKey(ip)]);
    if (rows[0]?.exceeded) return 'rate_limited';
    const { role, ...settings } = pgSettingsFor(config, { identity: undefined, clientIp: ip });
    try {
      await withTransaction(pool, { role, settings }, (client) => client.query(sql, params));
      return { ok: true };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'TKEXP' || code === 'WEAKP') return { ok: false, code };
      throw error;
    }
  }

  /** Runs a post's handler; an unexpected fault gets a page and a log line with an id, never the token. */
  function handle(fn: (req: Request, res: Response) => Promise<void>) {
    return async (req: Request, res: Response) => {
      try {
        if (!sameOrigin(req)) return sendHtml(res, 403, CROSS_SITE, CSP);
        await fn(req, res);
      } catch (error) {
        const id = randomUUID();
        log(`email page fault ${id}: ${(error as Error).message}`);
        sendHtml(res, 500, notice('revoked', 'Something went wrong', `Please try again later (error id ${id}).`), CSP);
      }
    };
  }

  router.get('/verify-email', (req, res) => {
    const token = tokenFrom(req.query.token);
    sendHtml(res, token ? 200 : 400, token ? verifyForm(token) : MISSING_TOKEN, CSP);
  });

  router.post(
    '/verify-email',
    body,
    handle(async (req, res) => {
      const token = tokenFrom(req.body?.token);
      if (!token) return sendHtml(res, 400, MISSING_TOKEN, CSP);
      const outcome = await call('verifyEmail', req.ip, 'select lms_public.verify_email($1)', [token]);
      if (outcome === 'rate_limited') return sendHtml(res, 429, TOO_MANY, CSP);
      if (!outcome.ok) return sendHtml(res, 400, BAD_LINK, CSP);
      sendHtml(res, 200, notice('valid', 'Email address confirmed', 'Thank you: your email address is confirmed.'), CSP);
    }),
  );

  router.get('/reset-password', (req, res) => {
    const token = tokenFrom(req.query.token);
    sendHtml(res, token ? 200 : 400, token ? resetForm(token) : MISSING_TOKEN, CSP);
  });

  router.post(
    '/reset-password',
    body,
    handle(async (req, res) => {
      const token = tokenFrom(req.body?.token);
      const { password, confirm } = (req.body ?? {}) as Record<string, unknown>;
      if (!token) return sendHtml(res, 400, MISSING_TOKEN, CSP);
      if (typeof password !== 'string' || password === '') return sendHtml(res, 400, resetForm(token, 'Enter a new password.'), CSP);
      if (password !== confirm) return sendHtml(res, 400, resetForm(token, 'The two passwords differ; enter the same one twice.'), CSP);
      const outcome = await call('resetPassword', req.ip, 'select lms_public.reset_password($1, $2)', [token, password]);
      if (outcome === 'rate_limited') return sendHtml(res, 429, TOO_MANY, CSP);
      if (!outcome.ok && outcome.code === 'WEAKP') {
        return sendHtml(res, 400, resetForm(token, 'That password is too weak: 10 characters at least, 72 bytes at most.'), CSP);
      }
      if (!outcome.ok) return sendHtml(res, 400, BAD_LINK, CSP);
      sendHtml(
        res,
        200,
        notice('valid', 'Password changed', 'Your password is changed, and every session has been signed out. Sign in with the new password.'),
        CSP,
      );
    }),
  );

  return router;
}
