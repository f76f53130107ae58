import {
  GraphQLError,
  Kind,
  FieldsOnCorrectTypeRule,
  KnownArgumentNamesRule,
  KnownTypeNamesRule,
  NoSchemaIntrospectionCustomRule,
  ValuesOfCorrectTypeRule,
  getNamedType,
  isCompositeType,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'postgraphile/graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { OperationLimits } from '../config.ts';
import type { GRAPHQL_LIMIT_CODES } from '../errors.ts';

type LimitCode = keyof typeof GRAPHQL_LIMIT_CODES;

export function limitError(code: LimitCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** Reports graphql-armor's rejection as our own coded error, without aborting validation. */
function armor(code: LimitCode, what: string, limit: number) {
  return {
    n: limit,
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null) => context?.reportError(limitError(code, `The operation has more ${what} than the limit of ${limit}.`))],
  };
}

/** A page size named in the document; a variable may be anything up to the maximum. */
function pageSizeOf(
  field: GraphQLField<unknown, unknown> | undefined,
  args: readonly { name: { value: string }; value: ValueNode }[],
  limits: OperationLimits,
) {
  if (!field?.args.some((a) => a.name === 'first')) return undefined;
  let size: number | undefined;
  for (const arg of args) {
    if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
    const value = arg.value.kind === Kind.INT ? Number(arg.value.value) : arg.value.kind === Kind.VARIABLE ? limits.maxPageSize : undefined;
    if (value !== undefined) size = Math.max(size ?? 0, value);
  }
  return size ?? limits.defaultPageSize;
}

interface Weight {
  /** Fields once every spread is expanded. */
  fields: number;
  /** Fields weighted by the page size of the connections around them. */
  cost: number;
}

/**
 * Weighs an operation in time linear in the document: each fragment is weighed once per
 * page size it is spread under and remembered, however often it is spread. The recursion
 * follows the document's nesting only, which the token limit keeps shallow, and a guard stops it
 * at a fixed depth all the same.
 */
function operationWeight(context: ValidationContext, limits: OperationLimits): Weight | 'QUERY_TOO_DEEP' | 'PAGE_SIZE_TOO_LARGE' {
  const schema = context.getSchema();
  const memo = new Map<string, Weight>();
  const maxNesting = 4 * limits.maxDepth + 64;
  let tooDeep = false;
  let tooLarge: number | undefined;

  const weigh = (set: SelectionSetNode, parent: GraphQLCompositeType, pageSize: number, nesting: number): Weight => {
    if (nesting > maxNesting) {
      tooDeep = true;
      return { fields: 0, cost: 0 };
    }
    const total = { fields: 0, cost: 0 };
    const isConnection = 'getFields' in parent && 'pageInfo' in parent.getFields();
    for (const selection of set.selections) {
      let part: Weight;
      if (selection.kind === Kind.FIELD) {
        const field = 'getFields' in parent ? parent.getFields()[selection.name.value] : undefined;
        const type = field ? getNamedType(field.type) : undefined;
        const size = pageSizeOf(field, selection.arguments ?? [], limits);
        if (size !== undefined && size > limits.maxPageSize) tooLarge = Math.max(tooLarge ?? 0, size);
        const inner =
          selection.selectionSet && type && isCompositeType(type) ? weigh(selection.selectionSet, type, size ?? 1, nesting + 1) : { fields: 0, cost: 0 };
        const times = isConnection && (selection.name.value === 'nodes' || selection.name.value === 'edges') ? pageSize : 1;
        part = { fields: 1 + inner.fields, cost: times * (1 + inner.cost) };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        part = type && isCompositeType(type) ? weigh(selection.selectionSet, type, pageSize, nesting + 1) : { fields: 0, cost: 0 };
      } else {
        part = weighFragment(context.getFragment(selection.name.value), pageSize, nesting + 1);
      }
      total.fields += part.fields;
      total.cost += part.cost;
    }
    return total;
  };

  const inProgress = new Set<string>();
  const weighFragment = (fragment: FragmentDefinitionNode | null | undefined, pageSize: number, nesting: number): Weight => {
    if (!fragment) return { fields: 0, cost: 0 };
    const key = `${fragment.name.value}@${pageSize}`;
    const known = memo.get(key);
    if (known) return known;
    // A cycle is NoFragmentCyclesRule's to report; here it weighs nothing.
    if (inProgress.has(key)) return { fields: 0, cost: 0 };
    const type = schema.getType(fragment.typeCondition.name.value);
    if (!type || !isCompositeType(type)) return { fields: 0, cost: 0 };
    inProgress.add(key);
    const weight = weigh(fragment.selectionSet, type, pageSize, nesting);
    inProgress.delete(key);
    memo.set(key, weight);
    return weight;
  };

  const total = { fields: 0, cost: 0 };
  for (const definition of context.getDocument().definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const root = schema.getRootType(definition.operation);
    if (!root) continue;
    const weight = weigh(definition.selectionSet, root, 1, 0);
    total.fields = Math.max(total.fields, weight.fields);
    total.cost = Math.max(total.cost, weight.cost);
  }
  if (tooDeep) return 'QUERY_TOO_DEEP';
  if (tooLarge !== undefined) return 'PAGE_SIZE_TOO_LARGE';
  return total;
}

/** Rejects operations whose expansion or estimated cost is over the limits, and oversized pages. */
export function operationWeightRule(limits: OperationLimits): ValidationRule {
  return (context): ASTVisitor => ({
    Document: {
      enter() {
        const weight = operationWeight(context, limits);
        if (weight === 'QUERY_TOO_DEEP') {
          context.reportError(limitError('QUERY_TOO_DEEP', `The operation nests deeper than the limit of ${limits.maxDepth}.`));
        } else if (weight === 'PAGE_SIZE_TOO_LARGE') {
          context.reportError(limitError('PAGE_SIZE_TOO_LARGE', `first and last may be at most ${limits.maxPageSize}; paginate with after or before.`));
        } else if (weight.fields > limits.maxExpandedFields) {
          context.reportError(
            limitError(
              'QUERY_TOO_BROAD',
              `The operation selects ${weight.fields} fields once its fragments are expanded; the limit is ${limits.maxExpandedFields}.`,
            ),
          );
        } else if (weight.cost > limits.maxCost) {
          context.reportError(
            limitError(
              'QUERY_TOO_COSTLY',
              `The operation's estimated cost is ${Math.round(Math.min(weight.cost, 1e15))}; the limit is ${limits.maxCost}. Ask for smaller pages or fewer nested connections.`,
            ),
          );
        }
        return false;
      },
    },
  });
}

const SUGGESTION = / ?Did you mean .*$/s;

/** graphql-js's rules whose messages suggest names; wrapping only these keeps validation cheap. */
const SUGGESTING_RULES: ReadonlySet<ValidationRule> = new Set([FieldsOnCorrectTypeRule, KnownArgumentNamesRule, KnownTypeNamesRule, ValuesOfCorrectTypeRule]);

/**
 * Runs a rule with every error it reports passed through `map` first. The rule sees a context
 * whose prototype is the real one, so every other call goes straight through.
 */
function mapReports(rule: ValidationRule, map: (error: GraphQLError) => GraphQLError): ValidationRule {
  return (context) => rule(Object.create(context, { reportError: { value: (error: GraphQLError) => context.reportError(map(error)) } }));
}

/** Drops "Did you mean …?" from a message: suggestions would map the schema for an outsider. */
function withoutSuggestion(error: GraphQLError): GraphQLError {
  if (!SUGGESTION.test(error.message)) return error;
  return new GraphQLError(error.message.replace(SUGGESTION, ''), { nodes: error.nodes, extensions: error.extensions });
}

/** The validation rules, ours first: the graphql-js rules they run beside are then bounded too. */
export function validationRules(
  limits: OperationLimits,
  options: { introspection: boolean; suggestions: boolean },
  specified: readonly ValidationRule[],
): ValidationRule[] {
  const ours: ValidationRule[] = [
    maxDepthRule(armor('QUERY_TOO_DEEP', 'levels of nesting', limits.maxDepth)) as ValidationRule,
    maxAliasesRule(armor('TOO_MANY_ALIASES', 'aliases', limits.maxAliases)) as ValidationRule,
    maxDirectivesRule(armor('TOO_MANY_DIRECTIVES', 'directives', limits.maxDirectives)) as ValidationRule,
    operationWeightRule(limits),
  ];
  if (!options.introspection) {
    ours.push(
      mapReports(NoSchemaIntrospectionCustomRule, (e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'INTROSPECTION_DISABLED' } })),
    );
  }
  const all = [...ours, ...specified];
  return options.suggestions ? all : all.map((rule) => (SUGGESTING_RULES.has(rule) ? mapReports(rule, withoutSuggestion) : rule));
}
