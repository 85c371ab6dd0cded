import type {} from '@acme/auth'
import { AcmeConfigError, parseOptions, scheduleOnReady, systemClock } from '@acme/core'
import type {} from '@acme/rbac'
import type {} from '@acme/tenancy'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import type { FlagsDb, FlagsTx } from './db.js'
import {
  type FlagDefinition,
  type FlagType,
  type FlagValue,
  flagDefinitionSchema,
} from './engine/definition.js'
import { problemsOfFlag, problemsOfSet } from './engine/validate.js'
import { Evaluator } from './evaluator.js'
import { type FlagsOptions, flagsOptionsSchema, type ResolvedFlagsOptions } from './options.js'
import { FLAGS_PERMISSIONS } from './permissions.js'
import { contextOf, flagCheck, RequestFlagsView } from './request-flags.js'
import { flagsRoutes } from './routes/flags.js'
import { FlagAdmin } from './services/flag-admin.js'
import { FlagHistory } from './services/history.js'
import { FlagSchedules } from './services/schedules.js'
import { FlagStore } from './store/flag-store.js'
import { LiveFlags } from './store/live-flags.js'
import type { FlagsServices, RequestFlags } from './types.js'

const kRequestFlags = Symbol('acme.flags.request')
type WithFlags = FastifyRequest & { [kRequestFlags]?: RequestFlags }

async function registerFlags(app: FastifyInstance, rawOptions: FlagsOptions): Promise<void> {
  const options = parseOptions('@acme/flags', flagsOptionsSchema, rawOptions)
  const problems: string[] = []
  const declared: FlagDefinition[] = []
  options.flags.forEach((declaration, index) => {
    const parsed = toDefinition(declaration)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(
          `flags[${index}] (${declaration.key}): ${issue.path.join('.')}: ${issue.message}`,
        )
      }
      return
    }
    declared.push(parsed.data)
    for (const problem of problemsOfFlag(parsed.data)) {
      problems.push(`flags[${index}] (${declaration.key}): ${problem}`)
    }
  })
  const declaredKeys = new Map(declared.map((definition) => [definition.key, definition]))
  problems.push(...problemsOfSet(declaredKeys, new Map()))
  if (declaredKeys.size !== declared.length) problems.push('flags: a key is declared twice')
  if (problems.length > 0) throw new AcmeConfigError('@acme/flags', problems)

  app.permissions.declare('@acme/flags', FLAGS_PERMISSIONS)
  const clock = options.clock ?? systemClock
  const db = app.prisma as unknown as FlagsDb
  const store = new FlagStore(db, options.environment)
  const tenancy = app.tenancy
  const live = new LiveFlags({
    environment: options.environment,
    load: () =>
      store.load((entity, key) =>
        app.log.warn({ entity, key }, 'flags: a stored definition does not parse; skipped'),
      ),
    readVersion: () => store.version(),
    broadcast: app.broadcast,
    entitlements: (plan) => {
      try {
        return tenancy.plan(plan).entitlements
      } catch {
        return []
      }
    },
    clock,
    pollMs: options.pollSeconds * 1_000,
    maxStaleMs: options.maxStaleSeconds * 1_000,
    logger: app.log,
  })
  const evaluator = new Evaluator(
    live,
    new Map<string, FlagValue>(
      declared.map((definition) => [definition.key, definition.defaultValue]),
    ),
  )
  const admin = new FlagAdmin({
    store,
    declaredTypes: new Map<string, FlagType>(
      declared.map((definition) => [definition.key, definition.type]),
    ),
    tenantRun: (tenantId, work) =>
      tenancy.tenants.run({ tenantId }, (tx) => work(tx as unknown as FlagsTx)),
    committed: async (version, records, actor) => {
      // The change is committed: a failed load here must not answer an error (the caller would
      // retry a change that is stored); polling and the broadcast bring it in.
      await live.caughtUp(version).catch((error: unknown) => {
        app.log.warn({ err: error, version }, 'flags: loading a change made here failed')
      })
      // The others catch up by polling when the message is lost: a failed publish is not an error.
      live.publish(version).catch((error: unknown) => {
        app.log.warn(
          { err: error, version },
          'flags: announcing a change failed; polling will carry it',
        )
      })
      for (const record of records) {
        await app.events.emit('flag.changed', {
          environment: options.environment,
          version,
          entity: record.entity,
          flagKey: record.key,
          tenantId: record.tenantId ?? null,
          action: record.action,
          before: record.before,
          after: record.after,
          by: actor.userId,
        })
      }
    },
  })

  const schedules = new FlagSchedules({
    db,
    environment: options.environment,
    admin,
    clock,
    flagExists: (key) => live.snapshot?.has(key) ?? false,
    hasRollout: (key) => Boolean(live.snapshot?.definition(key)?.rollout),
  })
  const schedulesJob = app.jobs.define({
    name: 'flags.schedules',
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async (_payload, context) => {
      const report = await schedules.runDue()
      if (report.applied + report.failed > 0) {
        app.log.info(
          { job: 'flags.schedules', jobId: context.id, ...report },
          'flags: schedules applied',
        )
      }
    },
  })
  scheduleOnReady(
    app,
    schedulesJob,
    options.schedules.enabled ? { every: options.schedules.everySeconds * 1_000 } : null,
    '@acme/flags',
  )

  const services: FlagsServices = {
    environment: options.environment,
    evaluate: (key, context) => evaluator.evaluate(key, context) as never,
    isEnabled: (key, context) => evaluator.isEnabled(key, context),
    explain: (key, context) =>
      live.snapshot?.explain(key, context) ?? {
        evaluation: evaluator.evaluate(key, context),
        steps: [],
      },
    status: () => live.status(),
    onStatus: (listener) => live.onStatus(listener),
    onChange: (listener) => live.onChange((snapshot) => listener(snapshot.version)),
    list: () => live.snapshot?.definitions() ?? [],
    get: (key) => live.snapshot?.definition(key),
    segments: () => live.snapshot?.segments() ?? [],
    overrides: (key) => live.snapshot?.overrides(key) ?? [],
    refresh: () => live.reload(),
    admin,
    schedules,
  }
  app.decorate('flags', services)
  app.decorateRequest('flags', {
    getter(this: WithFlags): RequestFlags {
      let flags = this[kRequestFlags]
      if (!flags) {
        flags = new RequestFlagsView(evaluator, contextOf(this))
        this[kRequestFlags] = flags
      }
      return flags
    },
  })
  // In core's last phase, once the caller and the tenant are known.
  app.routeChecks.add('authorize', flagCheck(live, evaluator))
  app.health.register('flags', async () => {
    if (live.state === 'loading') throw new Error('flags are not loaded yet')
    if (live.state === 'stale' && options.readiness.failWhenStale) {
      throw new Error('flags are stale: this instance could not confirm they are current')
    }
  })

  app.addHook('onReady', async () => {
    const unknown = app.routeTable
      .list()
      .filter(
        (route) => typeof route.config.flag === 'string' && !declaredKeys.has(route.config.flag),
      )
      .map(
        (route) =>
          `${route.method} ${route.url}: config.flag "${route.config.flag}" is not in the flags option`,
      )
    if (unknown.length > 0) throw new AcmeConfigError('@acme/flags', unknown)
    await store.ensureEnvironment()
    const conflicts = await admin.ensureDeclared(declared)
    if (conflicts.length > 0) throw new AcmeConfigError('@acme/flags', conflicts)
    await live.start()
  })
  app.addHook('onClose', async () => live.close())

  app.openapi.addTag({
    name: 'flags',
    description: 'Feature flags: definitions, overrides, evaluation.',
  })
  await app.register(flagsRoutes, {
    prefix: options.prefix,
    admin,
    live,
    evaluator,
    history: new FlagHistory(db, options.environment),
    schedules,
    operatorTenantId: options.operatorTenantId ?? null,
  })
}

/** A flag the code declares, as stored: a zod schema becomes the JSON Schema it stands for. */
function toDefinition(declaration: ResolvedFlagsOptions['flags'][number]) {
  const { schema, ...rest } = declaration
  const jsonSchema = schema instanceof z.ZodType ? z.toJSONSchema(schema) : schema
  return flagDefinitionSchema.safeParse({
    ...rest,
    ...(jsonSchema === undefined ? {} : { schema: jsonSchema }),
  })
}

/** Feature flags: register after `@acme/core`, `@acme/auth`, `@acme/tenancy` and `@acme/rbac`. */
export const acmeFlags = fp(registerFlags, {
  name: '@acme/flags',
  fastify: '5.x',
  dependencies: ['@acme/core', '@acme/auth', '@acme/tenancy', '@acme/rbac'],
})

export default acmeFlags

export type { AttributeValue, EvaluationContext } from './engine/conditions.js'
export {
  CONDITION_OPERATORS,
  type Condition,
  type ConditionOperator,
  FLAG_TYPES,
  type FlagDefinition,
  type FlagDefinitionInput,
  type FlagType,
  type FlagValue,
  type Prerequisite,
  type Rollout,
  type SegmentDefinition,
  type SegmentDefinitionInput,
  type TargetingRule,
} from './engine/definition.js'
export { BUCKETS, bucketOf, murmurHash3 } from './engine/murmur.js'
export {
  type Decision,
  type EntitlementsOf,
  type Evaluation,
  type EvaluationReason,
  type ExplainStep,
  FlagSnapshot,
  type SnapshotInput,
  type TenantOverride,
} from './engine/snapshot.js'
export { FlagsErrors } from './errors.js'
export type { FlagDeclaration, FlagsOptions, ResolvedFlagsOptions } from './options.js'
export { FLAGS_PERMISSIONS } from './permissions.js'
export type {
  FlagScheduleRecord,
  ScheduledChange,
  ScheduleRunReport,
  ScheduleStatus,
} from './services/schedules.js'
export type { FlagsState, FlagsStatus } from './store/live-flags.js'
export type {
  AcmeFlags,
  BooleanFlagKey,
  ChangeActor,
  FlagChangeEvent,
  FlagKey,
  FlagsAdmin,
  FlagsServices,
  FlagUpdate,
  FlagValueOf,
  RequestFlags,
  SegmentUpdate,
  TypedEvaluation,
} from './types.js'
