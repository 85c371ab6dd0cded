import type {} from '@acme/auth'
import {
  AcmeConfigError,
  type DomainEvent,
  parseOptions,
  scheduleOnReady,
  systemClock,
} from '@acme/core'
import type {} from '@acme/tenancy'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { ActionRegistry } from './actions.js'
import { metadataOf, targetsOf, tenantOf, userOf } from './event-entries.js'
import { type AuditOptions, auditOptionsSchema } from './options.js'
import { AUDIT_PERMISSIONS } from './permissions.js'
import { type Origin, originOf, RequestDirectory } from './request-info.js'
import { auditRoutes } from './routes/audit.js'
import { CheckpointSigner } from './services/checkpoints.js'
import { type NewEntry, Recorder } from './services/recorder.js'
import { Retention } from './services/retention.js'
import { verifyChain } from './services/verifier.js'
import { inTenant, type SqlClient, type TransactionalClient } from './sql.js'
import type { AuditActionName, AuditRecordInput, AuditServices } from './types.js'

export const RETENTION_JOB = 'audit.retention'

/** Metadata of an event-sourced entry: the event's payload, credentials left out. */
const eventMetadata = z.record(z.string(), z.unknown())
const routeMetadata = z
  .object({ method: z.string(), route: z.string(), status: z.number().int() })
  .strict()

async function registerAudit(app: FastifyInstance, rawOptions: AuditOptions): Promise<void> {
  const options = parseOptions('@acme/audit', auditOptionsSchema, rawOptions)
  if (!app.hasDecorator('auth') || !app.hasDecorator('tenancy')) {
    throw new AcmeConfigError('@acme/audit', [
      'register @acme/auth and @acme/tenancy before @acme/audit',
    ])
  }
  let signer: CheckpointSigner | null = null
  if (options.checkpointKey) {
    try {
      signer = new CheckpointSigner(options.checkpointKey, options.retiredCheckpointKeys)
    } catch (error) {
      throw new AcmeConfigError('@acme/audit', [
        `"checkpointKey" or "retiredCheckpointKeys" is not an Ed25519 key in PEM (${(error as Error).message})`,
      ])
    }
  }
  const now = options.clock ?? systemClock
  const prisma = app.prisma as unknown as TransactionalClient
  const actions = new ActionRegistry()
  const recorder = new Recorder(now)
  const requests = new RequestDirectory()
  requests.install(app)
  app.permissions.declare('@acme/audit', AUDIT_PERMISSIONS)

  actions.define({ name: 'access.denied', metadata: routeMetadata })
  actions.define({ name: 'data.read', metadata: routeMetadata })

  const prepare = <K extends AuditActionName>(input: AuditRecordInput<K>): NewEntry => {
    const origin: Origin = originOf(requests.current())
    return {
      action: input.action,
      content: actions.check(input.action, input),
      targets: input.targets ?? [],
      origin: {
        ...origin,
        ...(input.tenantId !== undefined ? { tenantId: input.tenantId } : {}),
        ...(input.actor ? { actor: input.actor } : {}),
      },
    }
  }

  const retention = signer
    ? new Retention({
        prisma,
        signer,
        now,
        batchSize: options.retention.batchSize,
        defaultDays: options.retention.retentionDays,
        daysFor: async (tenantId) => {
          try {
            const { plan } = await app.tenancy.tenants.get(tenantId)
            return options.retentionPlans[plan] ?? null
          } catch {
            // A deleted tenant: its entries follow the default retention.
            return null
          }
        },
      })
    : null
  const services: AuditServices = {
    defineAction: (definition) => actions.define(definition),
    record: async (db, input) => recorder.append(db, prepare(input)),
    async recordNow(input) {
      const entry = prepare(input)
      return inTenant(prisma, entry.origin.tenantId, (tx) => recorder.append(tx, entry))
    },
    verify: (tenantId, range) =>
      inTenant(prisma, tenantId, (tx) => verifyChain(tx, tenantId, signer, range)),
    purge: async () => (retention ? retention.run() : { chains: 0, deleted: 0 }),
  }
  app.decorate('audit', services)

  /** Event-sourced and hook-made entries: their own transaction, failures logged, never thrown. */
  const recordSafely = (entry: NewEntry, what: string): Promise<void> =>
    inTenant(prisma, entry.origin.tenantId, (tx: SqlClient) => recorder.append(tx, entry)).then(
      () => undefined,
      (error: unknown) => app.log.error({ err: error, action: what }, 'audit: entry not recorded'),
    )

  // Entries written after their response: app.close() waits for them.
  const pending = new Set<Promise<void>>()
  const track = (work: Promise<void>) => {
    pending.add(work)
    void work.finally(() => pending.delete(work))
  }
  app.addHook('onClose', async () => {
    await Promise.allSettled([...pending])
  })

  if (options.events.enabled) {
    const ignored = new Set(options.events.ignore)
    const entryOf = (event: DomainEvent): NewEntry => {
      if (!actions.has(event.name)) actions.define({ name: event.name, metadata: eventMetadata })
      const payload = event.payload as Record<string, unknown>
      const request = requests.current()
      const origin = originOf(request)
      // Without an authenticated caller (a login, a reset link) the event names who acted: its
      // `by`, else its user, unless the attempt failed. Outside a request only `by` counts (a
      // suspended user did not suspend themselves).
      if (origin.actor.type === 'anonymous' || origin.actor.type === 'system') {
        const actorId = userOf(event, origin.actor.type === 'anonymous')
        if (actorId) origin.actor = { type: 'user', id: actorId }
      }
      const entry: NewEntry = {
        action: event.name,
        content: actions.check(event.name, { metadata: metadataOf(payload) }),
        targets: targetsOf(payload),
        origin: { ...origin, tenantId: tenantOf(event) },
      }
      return entry
    }
    app.events.onAny((event: DomainEvent) => {
      if (ignored.has(event.name)) return
      let entry: NewEntry
      try {
        entry = entryOf(event)
      } catch (error) {
        // An event name that is no action name, say: logged, and the emitter is not concerned.
        app.log.error({ err: error, event: event.name }, 'audit: event not recorded')
        return
      }
      // Awaited by emitters that wait; tracked for those that do not, so close() waits too.
      const work = recordSafely(entry, event.name)
      track(work)
      return work
    })
  }

  // One hook for both, reading what Fastify already holds: no I/O unless an entry is due.
  // Callback style: the common case (nothing to record) costs no promise.
  app.addHook('onResponse', (request, reply, done) => {
    const tenant = request.tenant
    const denied = reply.statusCode === 403 && options.deniedAccess
    const read = request.routeOptions.config.audit === 'read' && reply.statusCode < 400
    if (!tenant || (!denied && !read)) {
      done()
      return
    }
    const action = denied ? 'access.denied' : 'data.read'
    const origin = originOf(request)
    // The response is sent; the entry is written in the background and awaited by app.close().
    track(
      recordSafely(
        {
          action,
          content: actions.check(action, {
            metadata: {
              method: request.method,
              route: request.routeOptions.url ?? request.url.split('?')[0] ?? '',
              status: reply.statusCode,
            },
          }),
          targets: [],
          origin: { ...origin, tenantId: tenant.id },
        },
        action,
      ),
    )
    done()
  })

  const handle = app.jobs.define({
    name: RETENTION_JOB,
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async (_payload, context) => {
      if (!retention) return
      const report = await retention.run()
      app.log.info({ job: RETENTION_JOB, jobId: context.id, ...report }, 'audit retention done')
    },
  })
  scheduleOnReady(
    app,
    handle,
    options.retention.enabled && retention ? options.retention.schedule : null,
    '@acme/audit',
  )

  app.openapi.addTag({ name: 'audit', description: 'The tenant’s audit log and its hash chain.' })
  await app.register(auditRoutes, {
    prefix: options.prefix,
    prisma,
    signer,
    exportLimit: options.exportLimit,
  })
}

/** The audit log: register after `@acme/core`, `@acme/auth`, `@acme/tenancy` (and `@acme/rbac`). */
export const acmeAudit = fp(registerAudit, {
  name: '@acme/audit',
  fastify: '5.x',
  dependencies: ['@acme/core', '@acme/auth', '@acme/tenancy'],
})

export default acmeAudit

export { REDACTED } from './actions.js'
export {
  CANONICAL_VERSION,
  canonicalJson,
  chainHash,
  contentHash,
  GENESIS_HASH,
  type HashedContent,
  type JsonValue,
} from './canonical.js'
export { csvCell } from './csv.js'
export { AuditErrors } from './errors.js'
export {
  type AuditOptions,
  DEFAULT_RETENTION_DAYS,
  type ResolvedAuditOptions,
} from './options.js'
export { AUDIT_PERMISSIONS } from './permissions.js'
export { checkpointMessage } from './services/checkpoints.js'
export { expectedHash } from './services/verifier.js'
export type { SqlClient } from './sql.js'
export type {
  AuditActionDefinition,
  AuditActionName,
  AuditActions,
  AuditActor,
  AuditEntry,
  AuditRecordInput,
  AuditServices,
  AuditTarget,
  VerifyProblemKind,
  VerifyReport,
} from './types.js'
