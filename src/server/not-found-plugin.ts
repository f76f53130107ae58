import { lambda, object, SafeError, trap, TRAP_ERROR, type ExecutableStep } from 'postgraphile/grafast';

/**
 * The generated update and delete mutations answer `{ <row>: null }` when their WHERE matched
 * nothing, a row that does not exist or that row-level security hides, so a client cannot tell
 * a refusal from success. This makes such a mutation fail with NTFND instead.
 *
 * pgUpdateSingle yields null when no row was affected; pgDeleteSingle (@dataplan/pg 1.x) flags
 * a plain Error, with no SQLSTATE, which the mask would hide as an internal fault. The payload
 * keeps its `result` step (its fields and clientMutationId read it), and gains a check of that
 * step, listed first: the payload depends on the check, so NTFND replaces the payload.
 */
const NOTHING_DELETED = /^No values were deleted in collection /;

function matchedNothing(outcome: unknown): boolean {
  if (outcome == null) return true;
  return outcome instanceof Error && !('code' in outcome) && NOTHING_DELETED.test(outcome.message);
}

export const NotFoundOnNoMatchPlugin: GraphileConfig.Plugin = {
  name: 'NotFoundOnNoMatchPlugin',
  version: '1.0.0',
  description: 'Generated update and delete mutations that match no row fail with NTFND.',
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, _build, context) {
        const { isPgUpdateMutation, isPgDeleteMutation } = context.scope;
        const plan = field.plan;
        if (!(isPgUpdateMutation || isPgDeleteMutation) || !plan) return field;
        const verb = isPgUpdateMutation ? 'update' : 'delete';
        return {
          ...field,
          plan(...args: Parameters<typeof plan>) {
            const $payload = plan.apply(this, args) as ExecutableStep & { getStepForKey(key: string): ExecutableStep };
            const $result = $payload.getStepForKey('result');
            const $found = lambda(trap($result, TRAP_ERROR), (outcome: unknown) => {
              if (matchedNothing(outcome)) throw new SafeError(`nothing to ${verb}: no such row, or not visible to you`, { code: 'NTFND' });
              if (outcome instanceof Error) throw outcome;
              return true;
            });
            return object({ found: $found, result: $result });
          },
        };
      },
    },
  },
};
