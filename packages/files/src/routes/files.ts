import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { FilesErrors } from '../errors.js'
import { contentDisposition } from '../names.js'
import type { UploadLimits } from '../options.js'
import type { FileService } from '../services/files.js'
import { type StoredFile, toView } from '../services/store.js'
import type { TransactionalClient } from '../sql.js'
import type { FileView } from '../types.js'
import {
  directUploadBody,
  directUploadConfirm,
  directUploadStart,
  fileBytes,
  fileList,
  fileParams,
  fileView,
  listQuery,
  signedLink,
  tenantParams,
  uploadResult,
} from './schemas.js'

export interface FileRoutesOptions {
  service: FileService
  limits: UploadLimits
  /** Reads a request's multipart files with limits and stores them (`app.files.receive`). */
  receive(request: FastifyRequest, limits: UploadLimits): Promise<FileView[]>
  /** Short transactions of the tenant's own, for work that outlasts a statement (uploads). */
  tenantClient(tenantId: string): TransactionalClient
  /** The path prefix of the plugin's routes, for the links it signs. */
  prefix: string
}

export function tenantOf(request: FastifyRequest): string {
  const tenant = request.tenant
  if (!tenant) throw new FilesErrors.TenantRequired()
  return tenant.id
}

export const db = (request: FastifyRequest) => request.db as unknown as TransactionalClient

/** The caller's user id: an API key acts as the user who made it. */
export function callerOf(request: FastifyRequest): string {
  const principal = request.principal
  if (!principal) throw new FilesErrors.TenantRequired()
  return principal.userId
}

/** The file, when the caller may `action` it (its own, or anyone's); otherwise the same 404. */
async function permitted(
  request: FastifyRequest,
  service: FileService,
  fileId: string,
  action: 'files:read' | 'files:write',
): Promise<StoredFile> {
  const file = await service.get(db(request), tenantOf(request), fileId)
  // A file the caller may not see is answered as one that does not exist.
  if (!request.can(action, { ownerId: file.ownerId })) throw new FilesErrors.FileNotFound()
  return file
}

/** Headers for sending stored bytes: never rendered in the app's origin. */
export function sendFile(
  reply: FastifyReply,
  file: StoredFile,
  body: NodeJS.ReadableStream,
  cacheControl: string,
) {
  const type = file.contentType.startsWith('text/')
    ? `${file.contentType}; charset=utf-8`
    : file.contentType
  return reply
    .header('content-type', type)
    .header('content-length', String(file.sizeBytes))
    .header('content-disposition', contentDisposition('attachment', file.name))
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('cache-control', cacheControl)
    .header('etag', `"${file.sha256}"`)
    .send(body as unknown as string)
}

/**
 * The tenant's files. API keys follow core's rule: every route declares a permission, so a key
 * whose scopes grant it may call it, acting as the user who made the key (its uploads are that
 * user's own).
 */
export async function fileRoutes(app: FastifyInstance, options: FileRoutesOptions) {
  const { service } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const read = { auth: 'required', tenant: 'required', permission: 'files:read:own' } as const
  const write = { auth: 'required', tenant: 'required', permission: 'files:write:own' } as const
  const limits = options.limits

  routes.post(
    '/tenants/:tenantId/files',
    {
      schema: {
        tags: ['files'],
        summary: 'Upload files',
        description:
          'multipart/form-data, streamed to storage, never held in memory whole. Every file part ' +
          `is stored (all or none): at most ${limits.maxFiles} files of ${limits.maxFileBytes} bytes ` +
          `each, ${limits.maxFields} other fields (ignored), within the tenant's storage quota; ` +
          'past any limit: 413 and nothing stored. The type comes from the content (magic ' +
          'numbers; CSV, JSON and plain text by parsing); a type the route does not accept, or ' +
          'one that contradicts the file name or part header, is 415. HTML, SVG, XML and ' +
          'executables are always refused. A zip archive, where the route accepts one, is ' +
          'refused when an entry is named outside it (`..`, an absolute path, NUL: 415) or it ' +
          'holds too many entries or expands too far (413). Names are kept as metadata only; files are stored ' +
          'under server-generated keys.',
        params: tenantParams,
        consumes: ['multipart/form-data'],
        response: { 201: uploadResult },
      },
      config: write,
    },
    async (request, reply) => {
      const items = await options.receive(request, limits)
      return reply.code(201).send({ items })
    },
  )

  routes.post(
    '/tenants/:tenantId/files/direct-uploads',
    {
      schema: {
        tags: ['files'],
        summary: 'Start a direct upload',
        description:
          'Signs a PUT straight to storage (S3-compatible drivers only; others answer 409) and ' +
          'a ticket. Upload the bytes there, then confirm with the ticket: nothing is visible ' +
          'before the confirmation has checked them. Valid 10 minutes by default.',
        params: tenantParams,
        body: directUploadBody,
        response: { 201: directUploadStart },
      },
      config: write,
    },
    async (request, reply) => {
      const started = await service.startDirect(
        tenantOf(request),
        callerOf(request),
        request.body.name,
        limits,
      )
      return reply.code(201).send({ ticket: started.ticket, ...started.upload })
    },
  )

  routes.post(
    '/tenants/:tenantId/files/direct-uploads/confirm',
    {
      schema: {
        tags: ['files'],
        summary: 'Confirm a direct upload',
        description:
          'Reads the uploaded object through the upload route’s checks (size, type by content ' +
          'against the name, text parsing, quota) into a file of the tenant, and removes the ' +
          'pending object. A refused upload is removed and answered as the upload route would ' +
          '(413, 415); a ticket of another tenant or user, or expired, is 404.',
        params: tenantParams,
        body: directUploadConfirm,
        response: { 201: fileView },
      },
      config: write,
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const file = await service.confirmDirect({
        db: options.tenantClient(tenantId),
        tenantId,
        plan: request.tenant?.plan ?? '',
        ownerId: callerOf(request),
        limits,
        ticket: request.body.ticket,
      })
      return reply.code(201).send(file)
    },
  )

  routes.get(
    '/tenants/:tenantId/files',
    {
      schema: {
        tags: ['files'],
        summary: 'List files',
        description:
          'The tenant’s files, newest first. With `files:read` all of them; with ' +
          '`files:read:own` only the caller’s own.',
        params: tenantParams,
        querystring: listQuery,
        response: { 200: fileList },
      },
      config: read,
    },
    async (request) => {
      const everyone = request.can('files:read')
      const onlyMine = !everyone || request.query.mine === 'true'
      const page = await service.list(db(request), tenantOf(request), {
        limit: request.query.limit,
        cursor: request.query.cursor,
        ownerId: onlyMine ? callerOf(request) : undefined,
      })
      return { items: page.items.map(toView), nextCursor: page.nextCursor }
    },
  )

  routes.get(
    '/tenants/:tenantId/files/:fileId',
    {
      schema: {
        tags: ['files'],
        summary: 'Get a file’s metadata',
        description:
          'One file of the tenant; 404 for an id of another tenant or one not visible to the caller.',
        params: fileParams,
        response: { 200: fileView },
      },
      config: read,
    },
    async (request) =>
      toView(await permitted(request, service, request.params.fileId, 'files:read')),
  )

  routes.get(
    '/tenants/:tenantId/files/:fileId/content',
    {
      schema: {
        tags: ['files'],
        summary: 'Download a file',
        description:
          'The file’s bytes with its sniffed content type, as an attachment (RFC 6266 ' +
          '`Content-Disposition` with the sanitised name), `nosniff` and a sandboxing CSP. A file ' +
          'in quarantine answers 409.',
        params: fileParams,
        response: { 200: fileBytes },
      },
      config: read,
    },
    async (request, reply) => {
      const file = await permitted(request, service, request.params.fileId, 'files:read')
      return sendFile(reply, file, await service.open(file), 'private, no-store')
    },
  )

  routes.post(
    '/tenants/:tenantId/files/:fileId/signed-url',
    {
      schema: {
        tags: ['files'],
        summary: 'Sign a download link',
        description:
          'A link that downloads this file without credentials until it expires (5 minutes by ' +
          'default). It is bound to the tenant and the file: changing either gives 404. Anyone ' +
          'holding it may download the file until then: hand it out as you would the file.',
        params: fileParams,
        response: { 201: signedLink },
      },
      config: read,
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const file = await permitted(request, service, request.params.fileId, 'files:read')
      if (file.status !== 'available') throw new FilesErrors.Quarantined()
      const link = service.signedLink(tenantId, file.id)
      const url =
        `${options.prefix}/files/signed/${tenantId}/${file.id}` +
        `?expires=${link.expires}&signature=${link.signature}`
      return reply.code(201).send({ url, expiresAt: new Date(link.expires * 1000) })
    },
  )

  routes.delete(
    '/tenants/:tenantId/files/:fileId',
    {
      schema: {
        tags: ['files'],
        summary: 'Delete a file',
        description:
          'Deletes the file and gives its bytes back to the tenant’s quota. `files:write:own` ' +
          'deletes only the caller’s own files.',
        params: fileParams,
        response: { 204: z.null().describe('Deleted.') },
      },
      config: write,
    },
    async (request, reply) => {
      const file = await permitted(request, service, request.params.fileId, 'files:write')
      await service.remove(db(request), tenantOf(request), file.id)
      return reply.code(204).send(null)
    },
  )
}
