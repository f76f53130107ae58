import Stripe from 'stripe';
import type { Config } from '../config.ts';

/** Stripe's tolerance for a signature's age, in seconds; older events are refused as replays. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * The Stripe client, at the API version this stripe package pins (2026-10-28.endive). Without a
 * secret key (development), a placeholder key serves webhook verification, which needs none;
 * STRIPE_API_BASE points it at a local fake API (tests) instead of api.stripe.com.
 */
export function makeStripe(config: Config): Stripe {
  const base = config.stripeApiBase;
  return new Stripe(config.stripeSecretKey ?? 'sk_test_development_checkout', {
    ...(base
      ? {
          host: base.hostname,
          port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
    maxNetworkRetries: 2,
  });
}
