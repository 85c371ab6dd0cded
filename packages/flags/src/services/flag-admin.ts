import type { FlagsTx } from '../db.js'
import {
  type FlagDefinition,
  type FlagDefinitionInput,
  type FlagType,
  type FlagValue,
  flagDefinitionSchema,
  type SegmentDefinition,
  type SegmentDefinitionInput,
  segmentDefinitionSchema,
} from '../engine/definition.js'
import { problemsOfFlag, problemsOfSet, valueSchemaOf } from '../engine/validate.js'
import { FlagsErrors } from '../errors.js'
import { asJson, type ChangeRecord, type FlagStore } from '../store/flag-store.js'
import type { ChangeActor, FlagsAdmin, FlagUpdate, SegmentUpdate } from '../types.js'

/** A tenant's transaction (row-level security as that tenant), for tenant admins' overrides. */
export type TenantRun = <R>(tenantId: string, work: (tx: FlagsTx) => Promise<R>) => Promise<R>

export interface FlagAdminOptions {
  store: FlagStore
  /** Called with each committed change: load it here, announce it, emit the events. */
  committed(version: number, records: ChangeRecord[], actor: ChangeActor): Promise<void>
  /** Types the code declared: a stored flag keeps them. */
  declaredTypes: ReadonlyMap<string, FlagType>
  tenantRun: TenantRun
}

/**
 * Changes to one environment's flags, segments and overrides, each checked against every other
 * flag (types, prerequisites, cycles, segments) inside the transaction that stores it, after the
 * version bump has locked out other writers. Fastify-free: the routes and `app.flags.admin` use it.
 */
export class FlagAdmin implements FlagsAdmin {
  readonly #options: FlagAdminOptions

  constructor(options: FlagAdminOptions) {
    this.#options = options
  }

  async createFlag(actor: ChangeActor, input: FlagDefinitionInput): Promise<FlagDefinition> {
    const definition = parseDefinition(input)
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      if (current.flags.has(definition.key)) throw new FlagsErrors.FlagExists()
      this.#assertSound(definition, current, (flags) => flags.set(definition.key, definition))
      await tx.flag.create({
        data: {
          environment: this.#options.store.environment,
          key: definition.key,
          definition: asJson(definition),
        },
      })
      return [
        { entity: 'flag', key: definition.key, action: 'created', before: null, after: definition },
      ]
    })
    return definition
  }

  async updateFlag(actor: ChangeActor, key: string, update: FlagUpdate): Promise<FlagDefinition> {
    let result: FlagDefinition | undefined
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      const before = current.flags.get(key)
      if (!before) throw new FlagsErrors.FlagNotFound()
      const definition = parseDefinition({ ...before, ...update, key })
      this.#assertSound(definition, current, (flags) => flags.set(key, definition))
      await tx.flag.updateMany({
        where: { environment: this.#options.store.environment, key },
        data: { definition: asJson(definition) },
      })
      result = definition
      return [{ entity: 'flag', key, action: 'updated', before, after: definition }]
    })
    return result as FlagDefinition
  }

  async setRolloutPercentage(
    actor: ChangeActor,
    key: string,
    percentage: number,
  ): Promise<FlagDefinition> {
    let result: FlagDefinition | undefined
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      const before = current.flags.get(key)
      if (!before) throw new FlagsErrors.FlagNotFound()
      if (!before.rollout) {
        throw new FlagsErrors.InvalidDefinition({
          extensions: { problems: ['rollout: the flag has no rollout to set a percentage of'] },
        })
      }
      const definition = parseDefinition({ ...before, rollout: { ...before.rollout, percentage } })
      this.#assertSound(definition, current, (flags) => flags.set(key, definition))
      await tx.flag.updateMany({
        where: { environment: this.#options.store.environment, key },
        data: { definition: asJson(definition) },
      })
      result = definition
      return [{ entity: 'flag', key, action: 'updated', before, after: definition }]
    })
    return result as FlagDefinition
  }

  async deleteFlag(actor: ChangeActor, key: string): Promise<void> {
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      const before = current.flags.get(key)
      if (!before) throw new FlagsErrors.FlagNotFound()
      const dependents = [...current.flags.values()].filter((flag) =>
        flag.prerequisites.some((prerequisite) => prerequisite.key === key),
      )
      if (dependents.length > 0) {
        throw new FlagsErrors.InUse({
          extensions: { dependents: dependents.map((flag) => flag.key) },
        })
      }
      await tx.flag.deleteMany({ where: { environment: this.#options.store.environment, key } })
      return [{ entity: 'flag', key, action: 'deleted', before, after: null }]
    })
  }

  /**
   * Sets a tenant's value of a flag. `scope: 'tenant'` runs as that tenant (row-level security),
   * for tenant admins, and only on flags marked tenant-editable.
   */
  async setOverride(
    actor: ChangeActor,
    key: string,
    tenantId: string,
    value: FlagValue,
    scope: 'operator' | 'tenant' = 'operator',
  ): Promise<void> {
    await this.#change(
      actor,
      async (tx) => {
        const flag = await this.#flagRow(tx, key, scope)
        const parsed = valueSchemaOf(flag.definition).safeParse(value)
        if (!parsed.success) {
          throw new FlagsErrors.InvalidValue({
            detail: parsed.error.issues[0]?.message ?? 'invalid',
          })
        }
        if (flag.definition.type === 'kill-switch') {
          throw new FlagsErrors.InvalidDefinition({
            extensions: { problems: ['a kill switch is only on or off: it takes no override'] },
          })
        }
        const existing = await tx.flagTenantOverride.findFirst({
          where: { flagId: flag.id, tenantId },
          select: { value: true },
        })
        await tx.flagTenantOverride.upsert({
          where: { flagId_tenantId: { flagId: flag.id, tenantId } },
          create: { flagId: flag.id, tenantId, value: asJson(value), updatedBy: actor.userId },
          update: { value: asJson(value), updatedBy: actor.userId },
        })
        return [
          {
            entity: 'override',
            key,
            tenantId,
            action: existing ? 'updated' : 'created',
            before: existing ? existing.value : null,
            after: value,
          },
        ]
      },
      scope === 'tenant' ? tenantId : null,
    )
  }

  async deleteOverride(
    actor: ChangeActor,
    key: string,
    tenantId: string,
    scope: 'operator' | 'tenant' = 'operator',
  ): Promise<void> {
    await this.#change(
      actor,
      async (tx) => {
        const flag = await this.#flagRow(tx, key, scope)
        const existing = await tx.flagTenantOverride.findFirst({
          where: { flagId: flag.id, tenantId },
          select: { value: true },
        })
        if (!existing)
          throw new FlagsErrors.FlagNotFound({ detail: 'This tenant has no override of the flag.' })
        await tx.flagTenantOverride.deleteMany({ where: { flagId: flag.id, tenantId } })
        return [
          {
            entity: 'override',
            key,
            tenantId,
            action: 'deleted',
            before: existing.value,
            after: null,
          },
        ]
      },
      scope === 'tenant' ? tenantId : null,
    )
  }

  async createSegment(
    actor: ChangeActor,
    input: SegmentDefinitionInput,
  ): Promise<SegmentDefinition> {
    const segment = parseSegment(input)
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      if (current.segments.has(segment.key)) throw new FlagsErrors.SegmentExists()
      await tx.flagSegment.create({
        data: {
          environment: this.#options.store.environment,
          key: segment.key,
          definition: asJson(segment),
        },
      })
      return [
        { entity: 'segment', key: segment.key, action: 'created', before: null, after: segment },
      ]
    })
    return segment
  }

  async updateSegment(
    actor: ChangeActor,
    key: string,
    update: SegmentUpdate,
  ): Promise<SegmentDefinition> {
    let result: SegmentDefinition | undefined
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      const before = current.segments.get(key)
      if (!before) throw new FlagsErrors.SegmentNotFound()
      const segment = parseSegment({ ...before, ...update, key })
      await tx.flagSegment.updateMany({
        where: { environment: this.#options.store.environment, key },
        data: { definition: asJson(segment) },
      })
      result = segment
      return [{ entity: 'segment', key, action: 'updated', before, after: segment }]
    })
    return result as SegmentDefinition
  }

  async deleteSegment(actor: ChangeActor, key: string): Promise<void> {
    await this.#change(actor, async (tx) => {
      const current = await readSet(tx, this.#options.store.environment)
      const before = current.segments.get(key)
      if (!before) throw new FlagsErrors.SegmentNotFound()
      current.segments.delete(key)
      const problems = problemsOfSet(current.flags, current.segments)
      if (problems.length > 0) {
        throw new FlagsErrors.InUse({ extensions: { problems } })
      }
      await tx.flagSegment.deleteMany({
        where: { environment: this.#options.store.environment, key },
      })
      return [{ entity: 'segment', key, action: 'deleted', before, after: null }]
    })
  }

  /** Startup: creates the flags the code declares when missing; a stored one of another type fails. */
  async ensureDeclared(declarations: readonly FlagDefinition[]): Promise<string[]> {
    const problems: string[] = []
    const missing: FlagDefinition[] = []
    const stored = await this.#options.store.load(() => undefined)
    const byKey = new Map(stored.flags.map((flag) => [flag.key, flag]))
    for (const declared of declarations) {
      const existing = byKey.get(declared.key)
      if (!existing) missing.push(declared)
      else if (existing.type !== declared.type) {
        problems.push(
          `flag "${declared.key}" is declared ${declared.type} but stored as ${existing.type}`,
        )
      }
    }
    if (problems.length > 0 || missing.length === 0) return problems
    await this.#change({ userId: null }, async (tx) => {
      const records: ChangeRecord[] = []
      for (const definition of missing) {
        const created = await tx.flag.createMany({
          data: [
            {
              environment: this.#options.store.environment,
              key: definition.key,
              definition: asJson(definition),
            },
          ],
          skipDuplicates: true,
        })
        if (created.count > 0) {
          records.push({
            entity: 'flag',
            key: definition.key,
            action: 'created',
            before: null,
            after: definition,
          })
        }
      }
      return records
    })
    return []
  }

  async #flagRow(
    tx: FlagsTx,
    key: string,
    scope: 'operator' | 'tenant',
  ): Promise<{ id: string; definition: FlagDefinition }> {
    const row = await tx.flag.findFirst({
      where: { environment: this.#options.store.environment, key },
      select: { id: true, definition: true },
    })
    const parsed = row ? flagDefinitionSchema.safeParse(row.definition) : null
    if (!row || !parsed?.success) throw new FlagsErrors.FlagNotFound()
    if (scope === 'tenant' && !parsed.data.tenantEditable) throw new FlagsErrors.NotTenantEditable()
    return { id: row.id, definition: parsed.data }
  }

  #assertSound(
    definition: FlagDefinition,
    current: StoredSet,
    apply: (flags: Map<string, FlagDefinition>) => void,
  ): void {
    const problems = problemsOfFlag(definition)
    const declared = this.#options.declaredTypes.get(definition.key)
    if (declared && declared !== definition.type) {
      problems.push(`type: the code reads "${definition.key}" as ${declared}`)
    }
    apply(current.flags)
    problems.push(...problemsOfSet(current.flags, current.segments))
    if (problems.length > 0) throw new FlagsErrors.InvalidDefinition({ extensions: { problems } })
  }

  async #change(
    actor: ChangeActor,
    work: (tx: FlagsTx) => Promise<ChangeRecord[]>,
    tenantId: string | null = null,
  ): Promise<void> {
    const run =
      tenantId === null
        ? undefined
        : <R>(inner: (tx: FlagsTx) => Promise<R>) => this.#options.tenantRun(tenantId, inner)
    const { version, records } = await this.#options.store.change(actor.userId, work, run)
    await this.#options.committed(version, records, actor)
  }
}

interface StoredSet {
  flags: Map<string, FlagDefinition>
  segments: Map<string, SegmentDefinition>
}

/** The environment's flags and segments as stored, inside the writer's transaction. */
async function readSet(tx: FlagsTx, environment: string): Promise<StoredSet> {
  const flags = await tx.flag.findMany({ where: { environment }, select: { definition: true } })
  const segments = await tx.flagSegment.findMany({
    where: { environment },
    select: { definition: true },
  })
  const set: StoredSet = { flags: new Map(), segments: new Map() }
  for (const row of flags) {
    const parsed = flagDefinitionSchema.safeParse(row.definition)
    if (parsed.success) set.flags.set(parsed.data.key, parsed.data)
  }
  for (const row of segments) {
    const parsed = segmentDefinitionSchema.safeParse(row.definition)
    if (parsed.success) set.segments.set(parsed.data.key, parsed.data)
  }
  return set
}

function parseDefinition(input: unknown): FlagDefinition {
  const parsed = flagDefinitionSchema.safeParse(input)
  if (!parsed.success) {
    throw new FlagsErrors.InvalidDefinition({
      extensions: {
        problems: parsed.error.issues.map(
          (issue) => `${issue.path.join('.') || 'flag'}: ${issue.message}`,
        ),
      },
    })
  }
  return parsed.data
}

function parseSegment(input: unknown): SegmentDefinition {
  const parsed = segmentDefinitionSchema.safeParse(input)
  if (!parsed.success) {
    throw new FlagsErrors.InvalidDefinition({
      extensions: {
        problems: parsed.error.issues.map(
          (issue) => `${issue.path.join('.') || 'segment'}: ${issue.message}`,
        ),
      },
    })
  }
  return parsed.data
}
