/** The part of Prisma's runtime data model tenancy reads: which model has which fields. */
export interface RuntimeField {
  name: string
  kind: 'scalar' | 'object' | 'enum' | string
  type: string
  dbName?: string | null
  relationName?: string
  isList?: boolean
}

export interface RuntimeDataModel {
  models: Record<string, { fields: readonly RuntimeField[]; dbName: string | null }>
}

/** How the scoped client treats one model. */
export interface ModelRule {
  model: string
  /** The client's delegate property: `note` for `Note`. */
  delegate: string
  table: string
  tenantOwned: boolean
  /** The tenant registry itself (`Tenant`): scoped by its id. */
  isTenantModel: boolean
  /** The scalar holding the tenant id (tenant-owned models only). */
  tenantField: string
  tenantColumn: string
  /** The relation field to `Tenant`, used instead of the scalar in checked create inputs. */
  tenantRelation: string | null
  /** Relation fields: name -> target model. */
  relations: ReadonlyMap<string, string>
  /** Scalar and enum fields: what a compound unique key of the model is made of. */
  scalars: ReadonlySet<string>
}

export type ScopeRules = ReadonlyMap<string, ModelRule>

export const delegateName = (model: string): string =>
  model.charAt(0).toLowerCase() + model.slice(1)

/**
 * Rules for every model: a model is tenant-owned when it has the tenant field, unless the options
 * name the tenant-owned models explicitly (then a model with the field but not named is refused by
 * the doctor, which finds its table unscoped).
 */
export function buildScopeRules(
  dataModel: RuntimeDataModel,
  options: { tenantField: string; tenantModel: string; tenantOwnedModels?: readonly string[] },
): ScopeRules {
  const rules = new Map<string, ModelRule>()
  for (const [model, { fields, dbName }] of Object.entries(dataModel.models)) {
    const tenantScalar = fields.find(
      (field) => field.kind === 'scalar' && field.name === options.tenantField,
    )
    const tenantOwned =
      model !== options.tenantModel &&
      tenantScalar !== undefined &&
      (options.tenantOwnedModels?.includes(model) ?? true)
    const relations = new Map<string, string>()
    const scalars = new Set<string>()
    for (const field of fields) {
      if (field.kind === 'object') relations.set(field.name, field.type)
      else scalars.add(field.name)
    }
    const tenantRelation =
      fields.find((field) => field.kind === 'object' && field.type === options.tenantModel)?.name ??
      null
    rules.set(model, {
      model,
      delegate: delegateName(model),
      table: dbName ?? model,
      tenantOwned,
      isTenantModel: model === options.tenantModel,
      tenantField: options.tenantField,
      tenantColumn: tenantScalar?.dbName ?? options.tenantField,
      tenantRelation,
      relations,
      scalars,
    })
  }
  for (const model of options.tenantOwnedModels ?? []) {
    if (!rules.get(model)?.tenantOwned) {
      throw new Error(
        `tenantOwnedModels names ${model}, which is not a model with a ${options.tenantField} field`,
      )
    }
  }
  return rules
}

/** Reads the data model a generated Prisma client carries. */
export function runtimeDataModelOf(client: unknown): RuntimeDataModel | null {
  const candidate = (client as { _runtimeDataModel?: unknown } | null)?._runtimeDataModel
  if (candidate && typeof candidate === 'object' && 'models' in candidate) {
    return candidate as RuntimeDataModel
  }
  return null
}
