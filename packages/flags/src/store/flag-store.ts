import type { FlagsDb, FlagsTx } from '../db.js'
import {
  type FlagDefinition,
  type FlagValue,
  flagDefinitionSchema,
  type SegmentDefinition,
  segmentDefinitionSchema,
} from '../engine/definition.js'
import type { TenantOverride } from '../engine/snapshot.js'
import type { Prisma } from '../generated/prisma/client.js'

/** One environment's configuration as stored, at one version. */
export interface StoredConfiguration {
  version: number
  flags: FlagDefinition[]
  segments: SegmentDefinition[]
  overrides: TenantOverride[]
}

/** A row that no longer parses (edited by hand, or written by a newer version) is skipped. */
export type SkippedRow = (entity: 'flag' | 'segment', key: string) => void

/** One entry of the change history. */
export interface ChangeRecord {
  entity: 'flag' | 'override' | 'segment'
  key: string
  tenantId?: string | null
  action: 'created' | 'updated' | 'deleted'
  before: unknown
  after: unknown
}

export const asJson = (value: unknown) => value as Prisma.InputJsonValue

/**
 * Reads and writes one environment's flags. Reads take everything in one repeatable-read
 * transaction, so the version and the rows agree; every write bumps the version first (the row
 * lock orders concurrent writers) and records its history in the same transaction.
 */
export class FlagStore {
  readonly #db: FlagsDb
  readonly environment: string

  constructor(db: FlagsDb, environment: string) {
    this.#db = db
    this.environment = environment
  }

  /** Creates the environment's version row when missing (startup). */
  async ensureEnvironment(): Promise<void> {
    await this.#db.flagEnvironment.upsert({
      where: { name: this.environment },
      create: { name: this.environment, version: 0 },
      update: {},
    })
  }

  /** The stored version: one indexed read, what polling asks. */
  async version(): Promise<number> {
    const row = await this.#db.flagEnvironment.findFirst({
      where: { name: this.environment },
      select: { version: true },
    })
    return row?.version ?? 0
  }

  async load(onSkipped: SkippedRow): Promise<StoredConfiguration> {
    const environment = this.environment
    return this.#db.$transaction(
      async (tx) => {
        const env = await tx.flagEnvironment.findFirst({
          where: { name: environment },
          select: { version: true },
        })
        const flagRows = await tx.flag.findMany({
          where: { environment },
          select: { key: true, definition: true },
        })
        const segmentRows = await tx.flagSegment.findMany({
          where: { environment },
          select: { key: true, definition: true },
        })
        const overrideRows = await tx.flagTenantOverride.findMany({
          where: { flag: { environment } },
          select: { tenantId: true, value: true, flag: { select: { key: true } } },
        })
        const flags: FlagDefinition[] = []
        for (const row of flagRows) {
          const parsed = flagDefinitionSchema.safeParse(row.definition)
          if (parsed.success && parsed.data.key === row.key) flags.push(parsed.data)
          else onSkipped('flag', row.key)
        }
        const segments: SegmentDefinition[] = []
        for (const row of segmentRows) {
          const parsed = segmentDefinitionSchema.safeParse(row.definition)
          if (parsed.success && parsed.data.key === row.key) segments.push(parsed.data)
          else onSkipped('segment', row.key)
        }
        return {
          version: env?.version ?? 0,
          flags,
          segments,
          overrides: overrideRows.map((row) => ({
            flagKey: row.flag.key,
            tenantId: row.tenantId,
            value: row.value as FlagValue,
          })),
        }
      },
      // One consistent read of everything; a large environment may take more than Prisma's
      // default five seconds.
      { isolationLevel: 'RepeatableRead', maxWait: 10_000, timeout: 60_000 },
    )
  }

  /**
   * Runs `work` in one transaction after bumping the environment's version, and records what it
   * reports in the history at that version. Answers the new version and the records.
   */
  async change(
    actorId: string | null,
    work: (tx: FlagsTx) => Promise<ChangeRecord[]>,
    run: <R>(work: (tx: FlagsTx) => Promise<R>) => Promise<R> = (inner) =>
      this.#db.$transaction((tx) => inner(tx)),
  ): Promise<{ version: number; records: ChangeRecord[] }> {
    const environment = this.environment
    return run(async (tx) => {
      const { version } = await tx.flagEnvironment.upsert({
        where: { name: environment },
        create: { name: environment, version: 1 },
        update: { version: { increment: 1 } },
        select: { version: true },
      })
      const records = await work(tx)
      if (records.length > 0) {
        await tx.flagChange.createMany({
          data: records.map((record) => ({
            environment,
            version,
            entity: record.entity,
            key: record.key,
            tenantId: record.tenantId ?? null,
            action: record.action,
            actorId,
            before: record.before === null ? undefined : asJson(record.before),
            after: record.after === null ? undefined : asJson(record.after),
          })),
        })
      }
      return { version, records }
    })
  }
}
