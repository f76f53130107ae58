import { ConstantStep, lambda, SafeError, type ExecutableStep, type FieldArgs } from 'postgraphile/grafast';
import type { OperationLimits } from '../config.ts';

interface Pageable {
  setFirst(first: ExecutableStep | number): void;
}

function isPageable(step: unknown): step is Pageable {
  return typeof (step as Partial<Pageable> | null)?.setFirst === 'function';
}

function isAbsent(step: ExecutableStep): boolean {
  return step instanceof ConstantStep && step.data === undefined;
}

function tooLarge(limit: number): SafeError {
  return new SafeError(`first and last must be from 0 to ${limit}; paginate with after or before.`, { code: 'PAGE_SIZE_TOO_LARGE' });
}

/**
 * A default and a maximum page on every connection. `first` is set here, from the field's own
 * plan, so that a connection asked for neither `first` nor `last` (or a null one from a
 * variable) reads the default page rather than the whole table. Literal sizes over the
 * maximum are refused earlier, by validation; these checks catch the ones from variables.
 */
export function makePageSizePlugin(limits: OperationLimits): GraphileConfig.Plugin {
  const checked = (size: number | null | undefined): number | null => {
    if (size == null) return null;
    if (size < 0 || size > limits.maxPageSize) throw tooLarge(limits.maxPageSize);
    return size;
  };
  return {
    name: 'CoursebasePageSizePlugin',
    version: '1.0.0',
    after: ['PgFirstLastBeforeAfterArgsPlugin'],
    schema: {
      hooks: {
        GraphQLObjectType_fields_field(field, _build, context) {
          const plan = field.plan;
          if (!context.scope.isPgFieldConnection || typeof plan !== 'function') return field;
          return {
            ...field,
            plan(this: unknown, $parent: ExecutableStep, fieldArgs: FieldArgs, info: { field: { args: readonly { name: string }[] } }) {
              const $connection = (plan as (...a: unknown[]) => unknown).call(this, $parent, fieldArgs, info);
              const names = new Set(info.field.args.map((a) => a.name));
              if (!names.has('first') || !isPageable($connection)) return $connection;
              const $first = fieldArgs.getRaw('first');
              const $last = names.has('last') ? fieldArgs.getRaw('last') : undefined;
              if (isAbsent($first) && (!$last || isAbsent($last))) {
                $connection.setFirst(limits.defaultPageSize);
              } else {
                $connection.setFirst(
                  lambda(
                    $last ? [$first, $last] : [$first],
                    ([first, last]: readonly (number | null | undefined)[]) => checked(first) ?? (last == null ? limits.defaultPageSize : null),
                  ),
                );
              }
              return $connection;
            },
          };
        },
        GraphQLObjectType_fields_field_args_arg(arg, _build, context) {
          if (!context.scope.isPgFieldConnection) return arg;
          // `first` is applied by the field's plan above; `last` is only checked.
          if (context.scope.argName === 'first') return { ...arg, applyPlan: undefined };
          if (context.scope.argName === 'last' && arg.applyPlan) {
            return {
              ...arg,
              applyPlan(_$parent, $connection: { setLast(last: ExecutableStep): void }, input) {
                $connection.setLast(lambda(input.getRaw(), (last: number | null | undefined) => checked(last)));
              },
            };
          }
          return arg;
        },
      },
    },
  };
}
