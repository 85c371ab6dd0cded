import type { EvaluationContext } from './engine/conditions.js'
import type {
  FlagDefinition,
  FlagDefinitionInput,
  FlagValue,
  SegmentDefinition,
  SegmentDefinitionInput,
} from './engine/definition.js'
import type { Evaluation, ExplainStep, TenantOverride } from './engine/snapshot.js'
import type {
  FlagScheduleRecord,
  ScheduledChange,
  ScheduleRunReport,
  ScheduleStatus,
} from './services/schedules.js'
import type { FlagsState, FlagsStatus } from './store/live-flags.js'

/**
 * The flags the app's code reads and the type of each value, declared by module augmentation so
 * `request.flags` is typed: `declare module '@acme/flags' { interface AcmeFlags { 'new-billing':
 * boolean; 'theme': 'light' | 'dark' } }`. Left empty, any key is accepted and values are JSON.
 */
export interface AcmeFlags {}

type Declared = keyof AcmeFlags & string

/** A flag key: one of `AcmeFlags` once the app declares any, else any string. */
export type FlagKey = [Declared] extends [never] ? string : Declared

/** The keys of boolean flags (what `isEnabled` takes). */
export type BooleanFlagKey = [Declared] extends [never]
  ? string
  : { [K in Declared]: AcmeFlags[K] extends boolean ? K : never }[Declared]

/** The value type of a flag. */
export type FlagValueOf<K extends string> = K extends Declared ? AcmeFlags[K] : FlagValue

/** An evaluation with the flag's value type. */
export interface TypedEvaluation<V> extends Omit<Evaluation, 'value'> {
  value: V
}

/** `request.flags`: the request's tenant, plan and user are the context; no I/O. */
export interface RequestFlags {
  /** Whether a boolean flag is on for this request (unknown flags are off). */
  isEnabled(key: BooleanFlagKey): boolean
  /** The value, with reason, variant and version. */
  evaluate<K extends FlagKey>(key: K): TypedEvaluation<FlagValueOf<K>>
  /** The value alone. */
  value<K extends FlagKey>(key: K): FlagValueOf<K>
  /** What this request evaluates with (tenant, plan, user; add attributes with `withAttributes`). */
  readonly context: EvaluationContext
  /** The same request's flags with extra attributes for rules (country, app version...). */
  withAttributes(attributes: EvaluationContext['attributes']): RequestFlags
}

/** `app.flags`: evaluation for any context, status, and changes in code. */
export interface FlagsServices {
  readonly environment: string
  evaluate<K extends FlagKey>(key: K, context: EvaluationContext): TypedEvaluation<FlagValueOf<K>>
  isEnabled(key: BooleanFlagKey, context: EvaluationContext): boolean
  /** Every layer and what it did: why this context gets this value. */
  explain(key: string, context: EvaluationContext): { evaluation: Evaluation; steps: ExplainStep[] }
  /** Loading, ready or stale, with the versions behind it. */
  status(): FlagsStatus
  /** Called on every change of state (the OpenFeature provider's READY / STALE events). */
  onStatus(listener: (status: FlagsStatus, previous: FlagsState) => void): () => void
  /** Called when a new version is served (CONFIGURATION_CHANGED). */
  onChange(listener: (version: number) => void): () => void
  /** Definitions as served. */
  list(): FlagDefinition[]
  get(key: string): FlagDefinition | undefined
  segments(): SegmentDefinition[]
  overrides(key: string): TenantOverride[]
  /** Loads from the database now (otherwise broadcast and polling keep this instance current). */
  refresh(): Promise<void>
  /** Changes in code (seed scripts, jobs), with the same checks, history and propagation as the routes. */
  readonly admin: FlagsAdmin
  /** Changes planned for a time, applied by the `flags.schedules` job. */
  readonly schedules: FlagsSchedules
}

/** `app.flags.schedules`. */
export interface FlagsSchedules {
  /** Plans one change at `runAt` (in the future). */
  plan(
    actor: ChangeActor,
    key: string,
    runAt: Date,
    change: ScheduledChange,
  ): Promise<FlagScheduleRecord>
  /** Plans a ramp of the flag's rollout, one percentage per step (going up only). */
  ramp(
    actor: ChangeActor,
    key: string,
    steps: readonly { at: Date; percentage: number }[],
  ): Promise<FlagScheduleRecord[]>
  list(filter: {
    key?: string
    status?: ScheduleStatus
    limit: number
  }): Promise<FlagScheduleRecord[]>
  cancel(id: string): Promise<void>
  /** Applies what is due now (what the job runs). */
  runDue(): Promise<ScheduleRunReport>
}

/** Who made a change: a user id, or null for code (seeds, jobs). */
export interface ChangeActor {
  userId: string | null
}

/** A change to a flag: the fields given replace the stored ones (key and type excepted). */
export type FlagUpdate = Partial<Omit<FlagDefinitionInput, 'key' | 'type'>>
export type SegmentUpdate = Partial<Omit<SegmentDefinitionInput, 'key'>>

/**
 * `app.flags.admin`: every change is checked against the other flags, stored with its history
 * at a new version, served here before the call returns, announced to the other instances and
 * emitted as `flag.changed`.
 */
export interface FlagsAdmin {
  createFlag(actor: ChangeActor, input: FlagDefinitionInput): Promise<FlagDefinition>
  updateFlag(actor: ChangeActor, key: string, update: FlagUpdate): Promise<FlagDefinition>
  /** The rollout's percentage alone (a ramp step), its value, stickiness and seed as they are. */
  setRolloutPercentage(actor: ChangeActor, key: string, percentage: number): Promise<FlagDefinition>
  deleteFlag(actor: ChangeActor, key: string): Promise<void>
  setOverride(actor: ChangeActor, key: string, tenantId: string, value: FlagValue): Promise<void>
  deleteOverride(actor: ChangeActor, key: string, tenantId: string): Promise<void>
  createSegment(actor: ChangeActor, input: SegmentDefinitionInput): Promise<SegmentDefinition>
  updateSegment(actor: ChangeActor, key: string, update: SegmentUpdate): Promise<SegmentDefinition>
  deleteSegment(actor: ChangeActor, key: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyRequest {
    readonly flags: RequestFlags
  }
  interface FastifyInstance {
    readonly flags: FlagsServices
  }
  interface FastifyContextConfig {
    /** The route exists only while this boolean flag is on for the request: 404 otherwise. */
    flag?: string
  }
}

/**
 * A before/after pair of a change, as `flag.changed` carries it. `flagKey` rather than `key`: an
 * audit subscriber drops payload fields named like credentials, `key` among them.
 */
export interface FlagChangeEvent {
  environment: string
  version: number
  entity: 'flag' | 'override' | 'segment'
  /** The flag's key, or the segment's. */
  flagKey: string
  tenantId: string | null
  action: 'created' | 'updated' | 'deleted'
  before: unknown
  after: unknown
  by: string | null
}

declare module '@acme/core' {
  interface AcmeJobs {
    /** Applies the scheduled flag changes that are due; `{}` runs it now. */
    'flags.schedules': Record<string, never>
  }
  interface AcmeEvents {
    /** Every change to a flag, a tenant's override or a segment, with its before and after. */
    'flag.changed': FlagChangeEvent
  }
}
