import QRCode from 'qrcode';
import { generateSecret, generateURI } from 'otplib';
import { extendSchema, gql } from 'postgraphile/utils';
import { context, lambda, object, SafeError } from 'postgraphile/grafast';
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import type { Config } from '../config.ts';
import type { CustomErrorCode } from '../errors.ts';
import { signAccessToken } from './tokens.ts';

interface SessionGrant {
  status: string;
  user_id: string | null;
  role: string | null;
  session_id: string | null;
  refresh_token: string | null;
}

/**
 * Each status that is not `ok`, as the client sees it. SQL returns these instead of raising
 * (it must commit its record of the failure), so this is the one place that words them.
 */
const STATUS_ERRORS: Record<string, [code: CustomErrorCode, message: string]> = {
  mfa_off: ['MFAOF', 'MFA is not on.'],
  invalid_credentials: ['CREDS', 'The email or password is wrong.'],
  locked: ['LOCKD', 'Too many failed logins: the account is locked for 15 minutes.'],
  account_disabled: ['DISBL', 'This account is deactivated.'],
  mfa_required: ['MFARQ', 'Enter the code from your authenticator app (mfaCode).'],
  invalid_mfa_code: ['MFABD', 'The MFA code is wrong or already used.'],
  invalid_token: ['TKEXP', 'The refresh token is invalid or expired; sign in again.'],
  token_expired: ['TKEXP', 'The refresh token is invalid or expired; sign in again.'],
  token_rotated: ['TKROT', 'This refresh token was just rotated by another request; use the newer token.'],
  token_reused: ['TKRUS', 'This refresh token was already used; every session has been ended. Sign in again.'],
};

function assertOk(status: string): void {
  if (status !== 'ok') {
    const [code, message] = STATUS_ERRORS[status] ?? ['INVAL', status];
    throw new SafeError(message, { code });
  }
}

function tokensFor(config: Config, grant: SessionGrant): { accessToken: string; refreshToken: string } {
  assertOk(grant.status);
  return {
    accessToken: signAccessToken(config, { userId: grant.user_id!, role: grant.role!, sessionId: grant.session_id! }),
    refreshToken: grant.refresh_token!,
  };
}

/**
 * The identity mutations whose payloads carry tokens signed here, or an MFA secret's QR code.
 * The rules are SQL functions; they return statuses rather than raising where a failure must
 * be recorded, and this turns a status into the client's error after the record has committed.
 */
export function makeIdentityPlugin(config: Config) {
  const ttl = `${config.refreshTokenDays} days`;
  const sessionMax = `${config.sessionMaxDays} days`;
  const reuseInterval = `${config.refreshReuseIntervalSeconds} seconds`;

  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main;
    return {
      typeDefs: gql`
        input LoginInput {
          email: String!
          password: String!
          "The TOTP code (or a recovery code); required when the account has MFA on."
          mfaCode: String
        }
        input RefreshSessionInput {
          refreshToken: String!
        }
        input EnableMfaInput {
          clientMutationId: String
        }
        input ConfirmMfaInput {
          code: String!
        }
        input DisableMfaInput {
          "A current TOTP code, or a recovery code."
          code: String!
        }
        input ChangePasswordInput {
          currentPassword: String!
          newPassword: String!
        }
        type SuccessPayload {
          success: Boolean!
        }
        "A new session: a 15-minute access token (send it as Authorization: Bearer) and a refresh token (send it to refreshSession)."
        type SessionPayload {
          accessToken: String!
          refreshToken: String!
        }
        type EnableMfaPayload {
          "The TOTP secret (base32), for manual entry."
          secret: String!
          "An otpauth:// URL for authenticator apps."
          otpauthUrl: String!
          "The otpauth URL as a QR code, a PNG data URL."
          qrCodeDataUrl: String!
        }
        type ConfirmMfaPayload {
          success: Boolean!
          "Ten one-time recovery codes. They are shown once; store them safely."
          recoveryCodes: [String!]!
        }
        extend type Mutation {
          "Signs in; on success starts a session. Errors: CREDS, LOCKD, DISBL, MFARQ, MFABD."
          login(input: LoginInput!): SessionPayload
          "Rotates a refresh token: the old one stops working, and a new pair is returned. Errors: TKEXP, TKROT, TKRUS, DISBL."
          refreshSession(input: RefreshSessionInput!): SessionPayload
          "Starts MFA enrollment for the signed-in user: scan the QR code, then call confirmMfa. Errors: NOAUT, MFAON."
          enableMfa(input: EnableMfaInput): EnableMfaPayload
          "Turns MFA on with a code from the authenticator, and returns recovery codes. Errors: NOAUT, MFABD."
          confirmMfa(input: ConfirmMfaInput!): ConfirmMfaPayload
          "Turns MFA off with a current code or a recovery code. Wrong codes count toward the lockout. Errors: NOAUT, MFAOF, MFABD, LOCKD."
          disableMfa(input: DisableMfaInput!): SuccessPayload
          "Changes the signed-in user's password and ends their other sessions. Wrong current passwords count toward the lockout. Errors: NOAUT, CREDS, LOCKD, WEAKP."
          changePassword(input: ChangePasswordInput!): SuccessPayload
        }
      `,
      objects: {
        Mutation: {
          plans: {
            login(_, { $input }) {
              const $grant = sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                const { rows } = await client.query<SessionGrant>({
                  text: 'select * from lms_private.login($1, $2, $3, $4::interval, $5::interval)',
                  values: [input.email, input.password, input.mfaCode ?? null, ttl, sessionMax],
                });
                return rows[0]!;
              });
              return lambda($grant, (grant) => tokensFor(config, grant));
            },
            refreshSession(_, { $input }) {
              const $grant = sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                const { rows } = await client.query<SessionGrant>({
                  text: 'select * from lms_private.refresh_session($1, $2::interval, $3::interval)',
                  values: [input.refreshToken, reuseInterval, ttl],
                });
                return rows[0]!;
              });
              return lambda($grant, (grant) => tokensFor(config, grant));
            },
            enableMfa() {
              const $secret = lambda(context(), () => generateSecret(), true);
              const $email = sideEffectWithPgClient(executor, $secret, async (client, secret) => {
                const { rows } = await client.query<{ email: string }>({
                  text: 'select lms_private.begin_mfa_enrollment($1) as email',
                  values: [secret],
                });
                return rows[0]!.email;
              });
              return lambda(object({ secret: $secret, email: $email }), async ({ secret, email }) => {
                const otpauthUrl = generateURI({ issuer: 'Coursebase', label: email, secret });
                return { secret, otpauthUrl, qrCodeDataUrl: await QRCode.toDataURL(otpauthUrl) };
              });
            },
            disableMfa(_, { $input }) {
              const $status = sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                const { rows } = await client.query<{ status: string }>({ text: 'select lms_private.disable_mfa($1) as status', values: [input.code] });
                return rows[0]!.status;
              });
              return lambda($status, (status) => (assertOk(status), { success: true }));
            },
            changePassword(_, { $input }) {
              const $status = sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                const { rows } = await client.query<{ status: string }>({
                  text: 'select lms_private.change_password($1, $2) as status',
                  values: [input.currentPassword, input.newPassword],
                });
                return rows[0]!.status;
              });
              return lambda($status, (status) => (assertOk(status), { success: true }));
            },
            confirmMfa(_, { $input }) {
              return sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                const { rows } = await client.query<{ codes: string[] }>({
                  text: 'select lms_private.confirm_mfa($1) as codes',
                  values: [input.code],
                });
                return { success: true, recoveryCodes: rows[0]!.codes };
              });
            },
          },
        },
      },
    };
  });
}
