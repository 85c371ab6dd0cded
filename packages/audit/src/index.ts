import type {} from '@acme/auth'
import { AcmeConfigError, parseOptions, systemClock } from '@acme/core'
import type {} from '@acme/tenancy'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ActionRegistry } from './actions.js'
import { BackgroundWriter } from './background-writer.js'
import { subscribeToEvents } from './event-subscriber.js'
import { type AuditOptions, auditOptionsSchema } from './options.js'
import { AUDIT_PERMISSIONS } from './permissions.js'
import { type Origin, originOf, RequestDirectory } from './request-info.js'
import { installResponseHook } from './response-hook.js'
import { defineRetentionJob } from './retention-job.js'
import { auditRoutes } from './routes/audit.js'
import { CheckpointSigner } from './services/checkpoints.js'
import { Linker } from './services/linker.js'
import { type NewEntry, Recorder } from './services/recorder.js'
import { Retention } from './services/retention.js'
import { verifyChain } from './services/verifier.js'
import { inTenant, type TransactionalClient } from './sql.js'
import type { AuditActionName, AuditRecordInput, AuditServices } from './types.js'

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
  const linker = new Linker({
    db: prisma,
    batchSize: options.link.batchSize,
    sweepMs: options.link.sweepMs,
    delayMs: options.link.delayMs,
    onError: (error, tenantId) =>
      app.log.error({ err: error, tenantId }, 'audit: entries not linked (retried by the sweep)'),
  })
  // The chains a request recorded in: linked once it has answered, its transaction committed.
  const recordedBy = new WeakMap<FastifyRequest, Set<string | null>>()
  app.addHook('onResponse', (request, _reply, done) => {
    for (const tenantId of recordedBy.get(request) ?? []) linker.soon(tenantId)
    done()
  })
  app.permissions.declare('@acme/audit', AUDIT_PERMISSIONS)

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
        link: (tenantId) => linker.link(tenantId),
        linkPending: () => linker.linkPending(),
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
    async record(db, input) {
      const entry = prepare(input)
      const appended = await recorder.append(db, entry)
      const request = requests.current()
      if (request) {
        const chains = recordedBy.get(request) ?? new Set()
        recordedBy.set(request, chains.add(entry.origin.tenantId))
      }
      // Outside a request (a job's transaction), the sweep links it once committed.
      return appended
    },
    async recordNow(input) {
      const entry = prepare(input)
      const appended = await inTenant(prisma, entry.origin.tenantId, (tx) =>
        recorder.append(tx, entry),
      )
      linker.soon(entry.origin.tenantId)
      return appended
    },
    link: (tenantId) => linker.link(tenantId),
    async verify(tenantId, range) {
      await linker.link(tenantId)
      return inTenant(prisma, tenantId, (tx) => verifyChain(tx, tenantId, signer, range))
    },
    purge: async () => (retention ? retention.run() : { chains: 0, deleted: 0 }),
  }
  app.decorate('audit', services)

  const writer = new BackgroundWriter(app, prisma, recorder, linker)
  app.addHook('onReady', async () => linker.start())
  app.addHook('onClose', async () => {
    await writer.idle()
    await linker.close()
  })
  if (options.events.enabled) {
    subscribeToEvents(app, { actions, requests, writer, ignore: options.events.ignore })
  }
  installResponseHook(app, { actions, writer, deniedAccess: options.deniedAccess })
  defineRetentionJob(app, retention, options.retention.enabled ? options.retention.schedule : null)

  app.openapi.addTag({ name: 'audit', description: 'The tenant’s audit log and its hash chain.' })
  await app.register(auditRoutes, {
    prefix: options.prefix,
    prisma,
    signer,
    linker,
    exportLimit: options.exportLimit,
    searchWindow: options.searchWindow,
    actions,
    writer,
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
export { RETENTION_JOB } from './retention-job.js'
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
