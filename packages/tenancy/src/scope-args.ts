import type { ModelRule, ScopeRules } from './data-model.js'

type Args = Record<string, unknown>

const isObject = (value: unknown): value is Args =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const each = (value: unknown, map: (item: Args) => Args): unknown =>
  Array.isArray(value)
    ? value.map((item) => (isObject(item) ? map(item) : item))
    : isObject(value)
      ? map(value)
      : value

/** Reads that take `where` and may return rows of the model. */
const FILTERED = new Set([
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
  'count',
  'aggregate',
  'groupBy',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'delete',
  'deleteMany',
  'upsert',
])

/** Every operation this module knows how to scope; any other is refused on scoped models. */
const KNOWN = new Set([...FILTERED, 'create', 'createMany', 'createManyAndReturn'])

/**
 * Rewrites the arguments of one operation so it can only touch rows of `tenantId`: every `where`
 * gets the tenant (findUnique keeps its unique key, so it stays an index lookup), creates get the
 * tenant id whatever the input said, and nested writes to tenant-owned models are scoped the same
 * way, so a `connect` to another tenant's row finds nothing. Nested reads (`include`) are not
 * filtered: rows linked to a tenant's rows were created through the same scoping. The database's policies enforce the
 * same rule; this layer makes the app correct without them and turns violations into "not found".
 */
export function scopeArgs(
  rules: ScopeRules,
  model: string,
  operation: string,
  args: Args | undefined,
  tenantId: string,
): Args | undefined {
  const rule = rules.get(model)
  if (!rule) return args
  // A new Prisma operation would otherwise run unfiltered: fail closed until it is handled here.
  if ((rule.tenantOwned || rule.isTenantModel) && !KNOWN.has(operation)) {
    throw new TypeError(`${model}.${operation} cannot be scoped to a tenant`)
  }
  const scoped: Args = { ...(args ?? {}) }
  if (FILTERED.has(operation)) {
    if (rule.tenantOwned) scoped.where = withTenant(rule, scoped.where, tenantId)
    // Through a scoped client the tenant registry shows one row: the current tenant.
    else if (rule.isTenantModel) scoped.where = { ...asObject(scoped.where), id: tenantId }
  }
  switch (operation) {
    case 'create':
      scoped.data = scopeCreateData(rules, rule, scoped.data, tenantId)
      break
    case 'createMany':
    case 'createManyAndReturn':
      scoped.data = each(scoped.data, (item) => scopeCreateData(rules, rule, item, tenantId, true))
      break
    case 'update':
    case 'updateMany':
    case 'updateManyAndReturn':
      scoped.data = scopeUpdateData(rules, rule, scoped.data, tenantId)
      break
    case 'upsert':
      scoped.create = scopeCreateData(rules, rule, scoped.create, tenantId)
      scoped.update = scopeUpdateData(rules, rule, scoped.update, tenantId)
      break
  }
  return scoped
}

function asObject(value: unknown): Args {
  return isObject(value) ? value : {}
}

function withTenant(rule: ModelRule, where: unknown, tenantId: string): Args {
  return { ...(isObject(where) ? where : {}), [rule.tenantField]: tenantId }
}

function scopeCreateData(
  rules: ScopeRules,
  rule: ModelRule,
  data: unknown,
  tenantId: string,
  scalarOnly = false,
): Args {
  const input: Args = isObject(data) ? { ...data } : {}
  for (const [field, value] of Object.entries(input)) {
    const target = rule.relations.get(field)
    if (target && isObject(value)) input[field] = scopeNestedWrite(rules, target, value, tenantId)
  }
  if (!rule.tenantOwned) return input
  // Prisma takes either the scalar foreign keys or relation objects ("checked" input), not both.
  const checked = !scalarOnly && rule.tenantRelation !== null && isCheckedInput(rule, input)
  if (checked && rule.tenantRelation) {
    delete input[rule.tenantField]
    input[rule.tenantRelation] = { connect: { id: tenantId } }
  } else {
    if (rule.tenantRelation) delete input[rule.tenantRelation]
    input[rule.tenantField] = tenantId
  }
  return input
}

/**
 * Whether a create input uses relation objects. The form the caller chose for the tenant decides
 * (unchecked input may still nest writes to child relations); without either, any relation field
 * suggests the checked form.
 */
function isCheckedInput(rule: ModelRule, input: Args): boolean {
  if (rule.tenantRelation !== null && rule.tenantRelation in input) return true
  if (rule.tenantField in input) return false
  return [...rule.relations.keys()].some((field) => field in input)
}

function scopeUpdateData(
  rules: ScopeRules,
  rule: ModelRule,
  data: unknown,
  tenantId: string,
): Args {
  const input: Args = isObject(data) ? { ...data } : {}
  for (const [field, value] of Object.entries(input)) {
    const target = rule.relations.get(field)
    if (target && isObject(value)) input[field] = scopeNestedWrite(rules, target, value, tenantId)
  }
  // Moving a row to another tenant is never an update this layer lets through.
  if (rule.tenantOwned) {
    delete input[rule.tenantField]
    if (rule.tenantRelation) delete input[rule.tenantRelation]
  }
  return input
}

/** `{ connect, create, update, ... }` on a relation field whose target is `model`. */
function scopeNestedWrite(rules: ScopeRules, model: string, write: Args, tenantId: string): Args {
  const rule = rules.get(model)
  if (!rule) return write
  // The tenant model is reachable from models that point at it: scoped by id, as at the top level.
  const filtered = rule.tenantOwned || rule.isTenantModel
  const where = (value: Args): Args =>
    rule.tenantOwned
      ? withTenant(rule, value, tenantId)
      : rule.isTenantModel
        ? { ...value, id: tenantId }
        : value
  const out: Args = { ...write }
  for (const [op, value] of Object.entries(write)) {
    switch (op) {
      case 'create':
        out[op] = each(value, (item) => scopeCreateData(rules, rule, item, tenantId))
        break
      case 'createMany':
        out[op] = isObject(value)
          ? {
              ...value,
              data: each(value.data, (item) => scopeCreateData(rules, rule, item, tenantId, true)),
            }
          : value
        break
      case 'connect':
      case 'set':
      case 'disconnect':
      case 'delete':
        // To-one `disconnect: true` / `delete: true` have no where to scope.
        out[op] = typeof value === 'boolean' ? value : each(value, where)
        break
      case 'connectOrCreate':
        out[op] = each(value, (item) => ({
          ...item,
          where: where(isObject(item.where) ? item.where : {}),
          create: scopeCreateData(rules, rule, item.create, tenantId),
        }))
        break
      case 'update':
        out[op] = each(value, (item) => {
          const wrapped = 'data' in item && ('where' in item || Object.keys(item).length === 1)
          const data = scopeUpdateData(rules, rule, wrapped ? item.data : item, tenantId)
          // A to-one shorthand (`update: { title }`) follows the parent's foreign key, which may
          // name another tenant's row: give it the filtered form, which Prisma also accepts.
          if (!wrapped) return filtered ? { where: where({}), data } : data
          return filtered || 'where' in item
            ? { ...item, where: where(isObject(item.where) ? item.where : {}), data }
            : { ...item, data }
        })
        break
      case 'updateMany':
        out[op] = each(value, (item) => ({
          ...item,
          where: where(isObject(item.where) ? item.where : {}),
          data: scopeUpdateData(rules, rule, item.data, tenantId),
        }))
        break
      case 'deleteMany':
        out[op] = each(value, where)
        break
      case 'upsert':
        out[op] = each(value, (item) => ({
          ...item,
          ...(filtered ? { where: where(isObject(item.where) ? item.where : {}) } : {}),
          create: scopeCreateData(rules, rule, item.create, tenantId),
          update: scopeUpdateData(rules, rule, item.update, tenantId),
        }))
        break
    }
  }
  return out
}
