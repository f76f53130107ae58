/*
 * Stripe events in the shapes of API version 2026-10-28.endive, the version stripe@23.1.0 pins
 * and the one our webhook endpoint is created with: a subscription's periods on its items, an
 * invoice's subscription under parent.subscription_details, its taxes in total_taxes and its
 * PaymentIntent under payments; Checkout's payment_status and total_details.amount_tax; a
 * charge's amount_refunded against amount. Amounts are integer minor units, currencies lower case.
 */
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

export const API_VERSION = '2026-10-28.endive';

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
}

/** An event around an object; `created` in seconds, like Stripe's. */
export function event(type: string, object: Record<string, unknown>, created = now()): StripeEvent {
  return {
    id: id('evt'),
    object: 'event',
    api_version: API_VERSION,
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

export interface CheckoutFields {
  paymentId?: string;
  subscriptionId?: string;
  userId: string;
  courseId?: string;
  planId?: string;
  amountTotal?: number;
  amountTax?: number;
  currency?: string;
  paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required';
  paymentIntent?: string;
  stripeSubscription?: string;
  customer?: string;
}

export function checkoutSession(f: CheckoutFields): Record<string, unknown> {
  const subscriptionMode = f.subscriptionId !== undefined;
  const amountTotal = f.amountTotal ?? 10000;
  return {
    id: id('cs_test'),
    object: 'checkout.session',
    mode: subscriptionMode ? 'subscription' : 'payment',
    status: 'complete',
    payment_status: f.paymentStatus ?? 'paid',
    client_reference_id: subscriptionMode ? f.subscriptionId : f.paymentId,
    customer: f.customer ?? id('cus'),
    currency: (f.currency ?? 'egp').toLowerCase(),
    amount_subtotal: amountTotal - (f.amountTax ?? 0),
    amount_total: amountTotal,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: f.amountTax ?? 0 },
    payment_intent: subscriptionMode ? null : (f.paymentIntent ?? id('pi')),
    subscription: subscriptionMode ? (f.stripeSubscription ?? id('sub')) : null,
    metadata: subscriptionMode
      ? { subscription_id: f.subscriptionId!, user_id: f.userId, plan_id: f.planId ?? '' }
      : { payment_id: f.paymentId!, user_id: f.userId, course_id: f.courseId ?? '' },
    livemode: false,
  };
}

export function paymentIntent(f: { id: string; paymentId?: string; status: 'succeeded' | 'requires_payment_method'; amount?: number; failure?: string }) {
  return {
    id: f.id,
    object: 'payment_intent',
    amount: f.amount ?? 10000,
    amount_received: f.status === 'succeeded' ? (f.amount ?? 10000) : 0,
    currency: 'egp',
    status: f.status,
    metadata: f.paymentId ? { payment_id: f.paymentId } : {},
    last_payment_error: f.failure ? { code: 'card_declined', message: f.failure } : null,
    latest_charge: id('ch'),
  };
}

export function charge(f: { paymentIntent: string; amount?: number; amountRefunded: number }) {
  const amount = f.amount ?? 10000;
  return {
    id: id('ch'),
    object: 'charge',
    amount,
    amount_captured: amount,
    amount_refunded: f.amountRefunded,
    // True only for a full refund (API 2026-10-28.endive, and long before).
    refunded: f.amountRefunded >= amount,
    currency: 'egp',
    paid: true,
    status: 'succeeded',
    payment_intent: f.paymentIntent,
    metadata: {},
  };
}

export interface SubscriptionObjectFields {
  stripeId: string;
  subscriptionId?: string;
  status: 'trialing' | 'active' | 'past_due' | 'unpaid' | 'paused' | 'canceled' | 'incomplete' | 'incomplete_expired';
  periodStart: number;
  periodEnd: number;
  priceId?: string;
  cancelAtPeriodEnd?: boolean;
  canceledAt?: number | null;
  customer?: string;
}

export function subscriptionObject(f: SubscriptionObjectFields) {
  return {
    id: f.stripeId,
    object: 'subscription',
    status: f.status,
    customer: f.customer ?? 'cus_test',
    cancel_at_period_end: f.cancelAtPeriodEnd ?? false,
    canceled_at: f.canceledAt ?? null,
    metadata: f.subscriptionId ? { subscription_id: f.subscriptionId } : {},
    // No current_period_* on the subscription itself in this API version: they are per item.
    items: {
      object: 'list',
      data: [
        {
          id: id('si'),
          object: 'subscription_item',
          current_period_start: f.periodStart,
          current_period_end: f.periodEnd,
          price: { id: f.priceId ?? 'price_test', object: 'price', recurring: { interval: 'month' } },
          quantity: 1,
        },
      ],
    },
  };
}

export function invoice(f: { stripeSubscription: string; subscriptionId?: string; status: 'paid' | 'open'; amount?: number; tax?: number }) {
  const amount = f.amount ?? 15000;
  return {
    id: id('in'),
    object: 'invoice',
    status: f.status,
    currency: 'egp',
    customer: 'cus_test',
    amount_due: amount,
    amount_paid: f.status === 'paid' ? amount : 0,
    total: amount,
    total_taxes: f.tax ? [{ amount: f.tax, tax_behavior: 'exclusive', taxability_reason: 'standard_rated', type: 'tax_rate_details' }] : [],
    parent: {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { subscription: f.stripeSubscription, metadata: f.subscriptionId ? { subscription_id: f.subscriptionId } : {} },
    },
    payments: { object: 'list', data: [{ id: id('inpay'), object: 'invoice_payment', payment: { type: 'payment_intent', payment_intent: id('pi') } }] },
  };
}

/** The body and Stripe-Signature header of a delivery; the timestamp in SECONDS, as Stripe signs. */
export function signed(evt: StripeEvent | string, secret: string, timestamp = now()): { body: string; signature: string } {
  const body = typeof evt === 'string' ? evt : JSON.stringify(evt);
  const signature = new Stripe('sk_test_signing').webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
  return { body, signature };
}
