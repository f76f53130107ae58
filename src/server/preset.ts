import type pg from 'pg';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgService } from 'postgraphile/adaptors/pg';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import type { Config } from '../config.ts';
import { identityOf, pgSettingsFor } from './auth.ts';
import { makeIdentityPlugin } from './identity-plugin.ts';
import { NotFoundOnNoMatchPlugin } from './not-found-plugin.ts';
import { maskError } from './mask-error.ts';
import { validationRules } from './operation-limits.ts';
import { makePageSizePlugin } from './page-size-plugin.ts';
import { makeCheckoutPlugin } from '../payments/checkout-plugin.ts';
import { makeStripe } from '../payments/stripe.ts';

export const GRAPHQL_PATH = '/graphql';
export const GRAPHIQL_PATH = '/graphiql';
export const MAX_BODY_BYTES = 100_000;

/** Puts our validation rules in front of graphql-js's own, through grafserv's preset hook. */
function makeValidationPlugin(config: Config): GraphileConfig.Plugin {
  return {
    name: 'CoursebaseValidationRulesPlugin',
    version: '1.0.0',
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules = validationRules(
            config.limits,
            { introspection: config.introspection, suggestions: !config.isProduction },
            event.validationRules,
          );
          return next();
        },
      },
    },
  };
}

/** The PostGraphile V5 preset: the lms_public schema, introspected as the authenticator. */
export function makePreset(config: Config, authPool: pg.Pool, onDatabaseError: (error: unknown) => void = () => {}): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PostGraphileConnectionFilterPreset, PgAggregatesPreset],
    plugins: [
      makeIdentityPlugin(config),
      NotFoundOnNoMatchPlugin,
      makePageSizePlugin(config.limits),
      makeValidationPlugin(config),
      // Last: placed before NotFoundOnNoMatchPlugin, the generated updateEnrollment answered 500
      // (a pool connection timed out); the cause is not yet understood.
      makeCheckoutPlugin(config, makeStripe(config)),
    ],
    pgServices: [makePgService({ pool: authPool, schemas: ['lms_public'] })],
    grafserv: {
      graphqlPath: GRAPHQL_PATH,
      graphiql: !config.isProduction,
      graphiqlOnGraphQLGET: false,
      graphiqlPath: GRAPHIQL_PATH,
      maxRequestLength: MAX_BODY_BYTES,
      // JSON only: the request guard reads the parsed JSON body, and other types invite CSRF.
      allowedRequestContentTypes: ['application/json'],
      watch: false,
      maskError: (error) => maskError(error, onDatabaseError),
    },
    grafast: {
      explain: false,
      timeouts: { planning: config.timeouts.planning, execution: config.timeouts.execution },
      context(requestContext) {
        const req = requestContext.expressv4?.req;
        return { pgSettings: pgSettingsFor(config, { identity: req ? identityOf(req) : undefined, clientIp: req?.ip }) };
      },
    },
  };
}
