import type {} from '@acme/auth'
import { AcmeConfigError, parseOptions, scheduleOnReady, systemClock } from '@acme/core'
import type {} from '@acme/rbac'
import type {} from '@acme/tenancy'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { FilesErrors } from './errors.js'
import { filesMultipart } from './multipart.js'
import {
  type FilesOptions,
  filesOptionsSchema,
  type UploadLimits,
  type UploadLimitsInput,
  uploadLimitsSchema,
} from './options.js'
import { FILES_PERMISSIONS } from './permissions.js'
import { callerOf, fileRoutes, tenantOf } from './routes/files.js'
import { signedRoutes } from './routes/signed.js'
import { DirectUploads } from './services/direct.js'
import { FileService } from './services/files.js'
import { fromMultipartError } from './services/multipart-errors.js'
import { scanFile } from './services/scanning.js'
import { Signer } from './services/signing.js'
import { fileStore } from './services/store.js'
import { sweepStorage } from './services/sweep.js'
import type { UploadPart } from './services/upload.js'
import { svgSanitiser } from './sniff/svg.js'
import type { SqlClient, TransactionalClient } from './sql.js'
import { LocalDiskDriver } from './storage/local.js'
import type { FilesServices, FileView } from './types.js'

interface MultipartRequest {
  isMultipart(): boolean
  parts(options: { limits: Record<string, number> }): AsyncIterable<UploadPart>
}

const hasMultipart = (request: FastifyRequest): request is FastifyRequest & MultipartRequest =>
  typeof (request as Partial<MultipartRequest>).parts === 'function' &&
  typeof (request as Partial<MultipartRequest>).isMultipart === 'function'

async function registerFiles(app: FastifyInstance, rawOptions: FilesOptions): Promise<void> {
  const options = parseOptions('@acme/files', filesOptionsSchema, rawOptions)
  if (!app.hasDecorator('auth') || !app.hasDecorator('tenancy') || !app.hasDecorator('rbac')) {
    throw new AcmeConfigError('@acme/files', [
      'register @acme/auth, @acme/tenancy and @acme/rbac before @acme/files',
    ])
  }
  // Sanitising SVG needs optional peer dependencies: without them the app does not start.
  if (options.upload.svg === 'sanitise') await svgSanitiser()
  const clock = options.clock ?? systemClock
  const storage = options.storage ?? new LocalDiskDriver(options.localDirectory as string)
  const signer = new Signer(options.signingKey)
  app.permissions.declare('@acme/files', FILES_PERMISSIONS)

  const inTenant = <R>(tenantId: string, work: (db: SqlClient) => Promise<R>) =>
    app.tenancy.tenants.run({ tenantId }, (tx) => work(tx as unknown as SqlClient))
  // Uploads take as long as the client sends: they never hold the request's transaction (a
  // `request`-scope tenant transaction would time out), only short transactions of their own.
  const tenantClient = (tenantId: string): TransactionalClient => ({
    $queryRawUnsafe: <T>(sql: string, ...values: unknown[]) =>
      inTenant(tenantId, (tx) => Promise.resolve(tx.$queryRawUnsafe<T>(sql, ...values))),
    $transaction: (work) => inTenant(tenantId, work),
  })

  const scanHook = options.scan
  const scanDeps = scanHook
    ? {
        hook: scanHook,
        storage,
        inTenant,
        infected: async (tenantId: string, fileId: string, reason: string) => {
          app.log.warn({ tenantId, fileId, reason }, 'files: scanning refused a file; deleted')
          await app.events.emit('file.deleted', { tenantId, fileId, reason: 'infected' })
        },
      }
    : null
  const scanJob = app.jobs.define({
    name: 'files.scan',
    schema: z.object({ tenantId: z.uuid(), fileId: z.uuid() }).strict(),
    concurrency: 2,
    attempts: 5,
    handler: async ({ tenantId, fileId }) => {
      if (scanDeps) await scanFile(scanDeps, tenantId, fileId)
    },
  })

  const sweep = () =>
    sweepStorage({
      storage,
      inTenant,
      now: clock,
      graceSeconds: options.sweep.graceSeconds,
      warn: (context, message) => app.log.warn(context, message),
    })
  const sweepJob = app.jobs.define({
    name: 'files.sweep',
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async () => {
      await sweep()
    },
  })
  scheduleOnReady(
    app,
    sweepJob,
    options.sweep.enabled ? { every: options.sweep.everySeconds * 1_000 } : null,
    '@acme/files',
  )

  const service = new FileService({
    storage,
    signer,
    direct: new DirectUploads({
      storage,
      signer,
      now: clock,
      ttlSeconds: options.directUploadTtlSeconds,
    }),
    clock,
    signedUrlTtlSeconds: options.signedUrlTtlSeconds,
    quotaOf: (plan) => {
      try {
        return app.tenancy.plan(plan).storageBytes
      } catch {
        // A plan the options no longer name: no bytes rather than unlimited ones.
        return 0
      }
    },
    scanning: options.scan !== undefined,
    uploaded: async (tenantId, files) => {
      for (const file of files) {
        if (file.status === 'quarantined') {
          // Committed already: a scan not queued now is queued by `scanPending`.
          await scanJob
            .enqueue({ tenantId, fileId: file.id }, { jobId: `files-scan-${file.id}` })
            .catch((error: unknown) =>
              app.log.warn({ err: error, fileId: file.id }, 'files: scan not queued'),
            )
        }
        await app.events.emit('file.uploaded', {
          tenantId,
          fileId: file.id,
          ownerId: file.ownerId,
          sizeBytes: file.sizeBytes,
        })
      }
    },
    deleted: (tenantId, fileId) =>
      app.events.emit('file.deleted', { tenantId, fileId, reason: 'deleted' }),
    warn: (context, message) => app.log.warn(context, message),
  })

  const receive = async (
    request: FastifyRequest,
    limitsInput: UploadLimitsInput = {},
  ): Promise<FileView[]> => {
    const limits: UploadLimits = uploadLimitsSchema.parse({ ...options.upload, ...limitsInput })
    if (!hasMultipart(request)) {
      throw new AcmeConfigError('@acme/files', [
        `${request.method} ${request.routeOptions.url}: register filesMultipart in this route's scope to receive uploads`,
      ])
    }
    if (!request.isMultipart()) throw new FilesErrors.NotMultipart()
    const tenantId = tenantOf(request)
    try {
      return await service.upload({
        db: tenantClient(tenantId),
        tenantId,
        plan: request.tenant?.plan ?? '',
        ownerId: callerOf(request),
        limits,
        parts: request.parts({
          limits: {
            fileSize: limits.maxFileBytes,
            files: limits.maxFiles,
            fields: limits.maxFields,
            fieldSize: limits.maxFieldBytes,
            fieldNameSize: 200,
            parts: limits.maxFiles + limits.maxFields,
            headerPairs: 50,
          },
        }),
        aborted: () => request.raw.aborted === true,
      })
    } catch (error) {
      // Refused before the body was read to its end (a type decided on the first bytes, a
      // limit): the parser stops pulling, so the rest of the body would sit unread and the
      // connection stay stuck. Discard what is left, so the client gets the answer and the
      // connection ends or is reused as usual.
      if (!request.raw.complete) {
        request.raw.unpipe()
        request.raw.resume()
      }
      throw fromMultipartError(error)
    }
  }

  const services: FilesServices = {
    storage,
    receive,
    signedUrl(tenantId, fileId) {
      const link = service.signedLink(tenantId, fileId)
      return {
        path:
          `${options.prefix}/files/signed/${tenantId}/${fileId}` +
          `?expires=${link.expires}&signature=${link.signature}`,
        expiresAt: new Date(link.expires * 1000),
      }
    },
    async scanPending(tenantId) {
      if (!scanDeps) return 0
      const ids = await inTenant(tenantId, (db) => fileStore.quarantined(db, tenantId))
      for (const fileId of ids) await scanFile(scanDeps, tenantId, fileId)
      return ids.length
    },
    sweep,
  }
  app.decorate('files', services)
  // Not a readiness check: a storage outage fails uploads and downloads (503), it does not take
  // every instance out of the load balancer. `app.files.storage.check()` is there to monitor it.

  app.openapi.addTag({
    name: 'files',
    description: 'The tenant’s files: uploads typed by content, downloads, signed links.',
  })
  await app.register(
    async (scope) => {
      await filesMultipart(scope)
      await scope.register(fileRoutes, {
        service,
        limits: options.upload,
        receive,
        tenantClient,
        prefix: options.prefix,
      })
      await scope.register(signedRoutes, { service, inTenant })
    },
    { prefix: options.prefix },
  )
}

/** File uploads: register after `@acme/core`, `@acme/auth`, `@acme/tenancy` and `@acme/rbac`. */
export const acmeFiles = fp(registerFiles, {
  name: '@acme/files',
  fastify: '5.x',
  dependencies: ['@acme/core', '@acme/auth', '@acme/tenancy', '@acme/rbac'],
})

export default acmeFiles

export { FilesErrors } from './errors.js'
export { filesMultipart } from './multipart.js'
export { contentDisposition, sanitiseFileName } from './names.js'
export type {
  FilesOptions,
  ResolvedFilesOptions,
  UploadLimits,
  UploadLimitsInput,
} from './options.js'
export { FILES_PERMISSIONS } from './permissions.js'
export type { SweepReport } from './services/sweep.js'
export { DEFAULT_ALLOWED_TYPES, TEXT_TYPES } from './sniff/types.js'
export {
  type PresignedUpload,
  STORAGE_KEY,
  type StorageDriver,
  StorageObjectMissing,
  type StoredObjectInfo,
  type StoredObjectSummary,
} from './storage/driver.js'
export { LocalDiskDriver } from './storage/local.js'
export type {
  FileStatus,
  FilesServices,
  FileView,
  ScanHook,
  ScanInput,
  ScanVerdict,
} from './types.js'
