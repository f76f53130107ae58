import { ConfigError, DEV_JWT_SECRET, DEV_STRIPE_WEBHOOK_SECRET, loadConfig } from '../../src/config.ts';
import { freshSigningKey } from '../support/api.ts';
import { pgSettingsFor } from '../../src/server/auth.ts';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  it('has safe development defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 5678, embeddedPgPort: 54329, databaseUrl: undefined, demoData: true, jwtSecret: DEV_JWT_SECRET });
    expect(config.embeddedPgPort).not.toBe(5432);
    expect(config.mailOutbox).toBe(`${config.dataDir}/outbox`);
  });

  it('refuses development secrets, the embedded database and demo data in production', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/DATABASE_URL/),
      expect.stringMatching(/development JWT_SECRET/),
      expect.stringMatching(/development LMS_CERT_SIGNING_KEY/),
      expect.stringMatching(/requires STRIPE_SECRET_KEY/),
      expect.stringMatching(/development STRIPE_WEBHOOK_SECRET/),
      expect.stringMatching(/requires LMS_PUBLIC_URL/),
      expect.stringMatching(/development LMS_CERT_KEY_ID \(dev-2026\)/),
      expect.stringMatching(/requires SMTP_URL, unless LMS_MAIL_TRANSPORT=outbox/),
    ]);
    const secrets = {
      DATABASE_URL: 'postgres://o@db/lms',
      JWT_SECRET: 's'.repeat(40),
      LMS_CERT_SIGNING_KEY: freshSigningKey(),
      STRIPE_SECRET_KEY: 'sk_live_x',
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
      LMS_CERT_KEY_ID: 'school-2026',
      LMS_PUBLIC_URL: 'https://learn.example.com',
      SMTP_URL: 'smtps://u:p@smtp.example.com',
    };
    expect(problems({ NODE_ENV: 'production', ...secrets, LMS_DEMO_DATA: 'true' })).toEqual([expect.stringMatching(/demo data/)]);
    expect(loadConfig({ NODE_ENV: 'production', ...secrets }).demoData).toBe(false);
  });

  it('refuses, in production, a wildcard CORS origin and mail with nowhere to go unless the outbox is chosen', () => {
    const base = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://o@db/lms',
      JWT_SECRET: 's'.repeat(40),
      LMS_CERT_SIGNING_KEY: freshSigningKey(),
      LMS_CERT_KEY_ID: 'school-2026',
      LMS_PUBLIC_URL: 'https://learn.example.com',
      STRIPE_SECRET_KEY: 'sk_live_x',
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
    };
    expect(problems({ ...base, SMTP_URL: 'smtp://mail', LMS_CORS_ORIGINS: 'https://app.example.com, *' })).toEqual([expect.stringMatching(/wildcard origin/)]);
    expect(loadConfig({ ...base, LMS_MAIL_TRANSPORT: 'outbox' }).mailTransport).toBe('outbox');
    expect(loadConfig({ ...base, SMTP_URL: 'smtp://mail' }).mailTransport).toBe('smtp');
    expect(problems({ ...base, LMS_MAIL_TRANSPORT: 'pigeon' })).toEqual([
      expect.stringMatching(/LMS_MAIL_TRANSPORT must be smtp or outbox/),
      expect.stringMatching(/requires SMTP_URL/),
    ]);
    // Development: the outbox unless SMTP_URL is set; a wildcard is the operator's choice.
    expect(loadConfig({}).mailTransport).toBe('outbox');
    expect(loadConfig({ LMS_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  it('names every invalid value at once', () => {
    expect(problems({ PORT: 'eighty', JWT_SECRET: 'short', DATABASE_URL: 'not a url', LMS_DEMO_DATA: 'maybe', LMS_CERT_SIGNING_KEY: 'nonsense' })).toEqual([
      expect.stringMatching(/DATABASE_URL is not a valid URL/),
      expect.stringMatching(/PORT must be a TCP port/),
      expect.stringMatching(/LMS_CERT_SIGNING_KEY must be an Ed25519 private key/),
      expect.stringMatching(/JWT_SECRET must be at least 32 bytes/),
      expect.stringMatching(/LMS_DEMO_DATA must be true or false/),
    ]);
  });

  it('Stripe: no key means the development checkout, with a development webhook secret; STRIPE_API_BASE points the client elsewhere', () => {
    expect(loadConfig({})).toMatchObject({ stripeSecretKey: undefined, stripeWebhookSecret: DEV_STRIPE_WEBHOOK_SECRET, stripeApiBase: undefined });
    const set = loadConfig({ STRIPE_SECRET_KEY: 'sk_test_1', STRIPE_WEBHOOK_SECRET: 'whsec_1', STRIPE_API_BASE: 'http://127.0.0.1:12111' });
    expect(set).toMatchObject({ stripeSecretKey: 'sk_test_1', stripeWebhookSecret: 'whsec_1' });
    expect(set.stripeApiBase?.port).toBe('12111');
    expect(problems({ STRIPE_API_BASE: 'localhost 12111' })).toEqual([expect.stringMatching(/STRIPE_API_BASE is not a valid URL/)]);
  });

  it('gives a past_due subscription LMS_PAST_DUE_GRACE_DAYS of access, 3 by default, and SQL the same through pgSettings', () => {
    expect(loadConfig({}).pastDueGraceDays).toBe(3);
    expect(loadConfig({ LMS_PAST_DUE_GRACE_DAYS: '0' }).pastDueGraceDays).toBe(0);
    expect(pgSettingsFor(loadConfig({ LMS_PAST_DUE_GRACE_DAYS: '7' }), { identity: undefined, clientIp: undefined })['lms.past_due_grace_days']).toBe('7');
    expect(problems({ LMS_PAST_DUE_GRACE_DAYS: 'soon' })).toEqual([expect.stringMatching(/LMS_PAST_DUE_GRACE_DAYS/)]);
    expect(problems({ LMS_PAST_DUE_GRACE_DAYS: '-1' })).toEqual([expect.stringMatching(/LMS_PAST_DUE_GRACE_DAYS/)]);
  });

  it('seeds demo data by default only with the embedded database', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/d' }).demoData).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/d', LMS_DEMO_DATA: 'true' }).demoData).toBe(true);
  });

  it('email links go to LMS_APP_URL when set, and to LMS_PUBLIC_URL otherwise', () => {
    expect(loadConfig({}).appUrl).toBe('http://localhost:5678');
    expect(loadConfig({ LMS_PUBLIC_URL: 'https://lms.example.com/' }).appUrl).toBe('https://lms.example.com');
    const both = loadConfig({ LMS_PUBLIC_URL: 'https://lms.example.com', LMS_APP_URL: 'https://app.example.com/account/' });
    expect(both).toMatchObject({ publicUrl: 'https://lms.example.com', appUrl: 'https://app.example.com/account' });
    expect(problems({ LMS_APP_URL: 'app.example.com' })).toEqual([expect.stringMatching(/LMS_APP_URL is not a valid URL/)]);
  });
});
