import type Stripe from 'stripe';
import { extendSchema, gql } from 'postgraphile/utils';
import { SafeError } from 'postgraphile/grafast';
import { sideEffectWithPgClient, type PgClient } from 'postgraphile/@dataplan/pg';
import type { Config } from '../config.ts';

interface Buyer {
  user_id: string;
  email: string;
  stripe_customer_id: string | null;
}
interface CourseCheckout extends Buyer {
  payment_id: string;
  course_id: string;
  course_title: string;
  amount_minor: string;
  currency: string;
}
interface SubscriptionCheckout extends Buyer {
  subscription_id: string;
  plan_id: string;
  stripe_price_id: string;
}

/** The buyer's one Stripe customer: created once (idempotently, per user) and remembered in SQL. */
async function customerFor(stripe: Stripe, client: PgClient, buyer: Buyer): Promise<string> {
  if (buyer.stripe_customer_id) return buyer.stripe_customer_id;
  const customer = await stripe.customers.create({ email: buyer.email, metadata: { user_id: buyer.user_id } }, { idempotencyKey: `customer:${buyer.user_id}` });
  const { rows } = await client.query<{ id: string }>({ text: 'select lms_private.remember_stripe_customer($1) as id', values: [customer.id] });
  return rows[0]!.id;
}

/**
 * createCourseCheckout and createSubscriptionCheckout: SQL records our pending row first (its
 * rules: what may be bought, at what price), then Stripe creates the Checkout Session with the
 * row's id as client_reference_id, in metadata (copied to the PaymentIntent or subscription, so
 * that every later event finds the row) and in the idempotency key (a retried request creates
 * no second session). All in the mutation's transaction: if Stripe fails, no row remains.
 */
export function makeCheckoutPlugin(config: Config, stripe: Stripe) {
  const returnUrl = (kind: 'success' | 'cancel') => `${config.appUrl}/checkout/${kind}?session_id={CHECKOUT_SESSION_ID}`;
  const requireStripe = () => {
    if (config.stripeSecretKey === undefined) {
      throw new SafeError('Checkout needs STRIPE_SECRET_KEY: no Stripe account is configured.', { code: 'INVAL' });
    }
  };

  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main;
    return {
      typeDefs: gql`
        input CreateCourseCheckoutInput {
          courseId: UUID!
        }
        input CreateSubscriptionCheckoutInput {
          planId: UUID!
        }
        "A Stripe Checkout to send the buyer to. Coming back from it grants nothing: Stripe's events do."
        type CourseCheckoutPayload {
          "Where the buyer pays."
          checkoutUrl: String!
          "The pending payment, which Stripe's events complete."
          paymentId: UUID!
        }
        "A Stripe Checkout for a subscription."
        type SubscriptionCheckoutPayload {
          "Where the buyer subscribes."
          checkoutUrl: String!
          "The incomplete subscription, which Stripe's events make active."
          subscriptionId: UUID!
        }
        extend type Mutation {
          "Starts buying a published paid course: a pending payment and a Stripe Checkout Session in payment mode. Errors: NOAUT, NTFND, INVAL (free, or already accessible)."
          createCourseCheckout(input: CreateCourseCheckoutInput!): CourseCheckoutPayload
          "Starts subscribing to a plan on sale: an incomplete subscription and a Stripe Checkout Session in subscription mode. Errors: NOAUT, NTFND, INVAL (already subscribed)."
          createSubscriptionCheckout(input: CreateSubscriptionCheckoutInput!): SubscriptionCheckoutPayload
        }
      `,
      objects: {
        Mutation: {
          plans: {
            createCourseCheckout(_, { $input }) {
              return sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                requireStripe();
                const { rows } = await client.query<CourseCheckout>({ text: 'select * from lms_private.begin_course_checkout($1)', values: [input.courseId] });
                const checkout = rows[0]!;
                const customer = await customerFor(stripe, client, checkout);
                const metadata = { payment_id: checkout.payment_id, user_id: checkout.user_id, course_id: checkout.course_id };
                const session = await stripe.checkout.sessions.create(
                  {
                    mode: 'payment',
                    customer,
                    client_reference_id: checkout.payment_id,
                    line_items: [
                      {
                        quantity: 1,
                        price_data: { currency: checkout.currency, unit_amount: Number(checkout.amount_minor), product_data: { name: checkout.course_title } },
                      },
                    ],
                    metadata,
                    payment_intent_data: { metadata },
                    success_url: returnUrl('success'),
                    cancel_url: returnUrl('cancel'),
                  },
                  { idempotencyKey: `checkout:${checkout.payment_id}` },
                );
                await client.query({ text: 'select lms_private.record_checkout_session($1, null, $2)', values: [checkout.payment_id, session.id] });
                return { checkoutUrl: session.url, paymentId: checkout.payment_id };
              });
            },
            createSubscriptionCheckout(_, { $input }) {
              return sideEffectWithPgClient(executor, $input, async (client, input: any) => {
                requireStripe();
                const { rows } = await client.query<SubscriptionCheckout>({
                  text: 'select * from lms_private.begin_subscription_checkout($1)',
                  values: [input.planId],
                });
                const checkout = rows[0]!;
                const customer = await customerFor(stripe, client, checkout);
                const metadata = { subscription_id: checkout.subscription_id, user_id: checkout.user_id, plan_id: checkout.plan_id };
                const session = await stripe.checkout.sessions.create(
                  {
                    mode: 'subscription',
                    customer,
                    client_reference_id: checkout.subscription_id,
                    line_items: [{ price: checkout.stripe_price_id, quantity: 1 }],
                    metadata,
                    subscription_data: { metadata },
                    success_url: returnUrl('success'),
                    cancel_url: returnUrl('cancel'),
                  },
                  { idempotencyKey: `checkout:${checkout.subscription_id}` },
                );
                await client.query({ text: 'select lms_private.record_checkout_session(null, $1, $2)', values: [checkout.subscription_id, session.id] });
                return { checkoutUrl: session.url, subscriptionId: checkout.subscription_id };
              });
            },
          },
        },
      },
    };
  }, 'CoursebaseCheckoutPlugin');
}
