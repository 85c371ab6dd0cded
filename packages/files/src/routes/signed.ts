import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { FilesErrors } from '../errors.js'
import type { FileService } from '../services/files.js'
import type { SqlClient } from '../sql.js'
import { sendFile } from './files.js'
import { fileBytes, signedParams, signedQuery } from './schemas.js'

export interface SignedRoutesOptions {
  service: FileService
  /** Runs `work` in one transaction as the tenant (row-level security applies). */
  inTenant<R>(tenantId: string, work: (db: SqlClient) => Promise<R>): Promise<R>
}

/**
 * Signed download links: public (the signature is the credential), so API keys have nothing to
 * do here. The signature is checked before the database is asked anything.
 */
export async function signedRoutes(app: FastifyInstance, options: SignedRoutesOptions) {
  const routes = app.withTypeProvider<ZodTypeProvider>()
  routes.get(
    '/files/signed/:tenantId/:fileId',
    {
      schema: {
        tags: ['files'],
        summary: 'Download through a signed link',
        description:
          'The file of a link made by `POST /tenants/:tenantId/files/:fileId/signed-url`. A ' +
          'signature that does not match the tenant, the file and the expiry answers 404, as an ' +
          'unknown file does; a genuine link past its expiry answers 403. No sign-in is needed; ' +
          'a caller signed in to another tenant (a session switched to it, or an API key bound ' +
          'to it) gets 404 for this tenant’s links.',
        params: signedParams,
        querystring: signedQuery,
        response: { 200: fileBytes },
      },
      // No sign-in needed: the signature is the credential, and no tenant is resolved from the
      // path. A caller who does sign in (a session or an API key working in a tenant) may only
      // use links of that tenant: another tenant's answers the 404 of an unknown file.
      config: { auth: 'optional', tenant: false, apiKeys: 'allow' },
    },
    async (request, reply) => {
      const { tenantId, fileId } = request.params
      const { expires, signature } = request.query
      options.service.checkLink(tenantId, fileId, expires, signature)
      const callerTenant = request.principal?.tenantId
      if (callerTenant && callerTenant !== tenantId) throw new FilesErrors.FileNotFound()
      const file = await options.inTenant(tenantId, (db) =>
        options.service.get(db, tenantId, fileId),
      )
      if (file.status !== 'available') throw new FilesErrors.FileNotFound()
      return sendFile(reply, file, await options.service.open(file), 'private, no-store')
    },
  )
}
