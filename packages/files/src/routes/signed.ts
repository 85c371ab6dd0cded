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
          'unknown file does; a genuine link past its expiry answers 403.',
        params: signedParams,
        querystring: signedQuery,
        response: { 200: fileBytes },
      },
      // Public, and no tenant is resolved from the path: the signature alone decides.
      config: { auth: 'public', tenant: false },
    },
    async (request, reply) => {
      const { tenantId, fileId } = request.params
      const { expires, signature } = request.query
      options.service.checkLink(tenantId, fileId, expires, signature)
      const file = await options.inTenant(tenantId, (db) =>
        options.service.get(db, tenantId, fileId),
      )
      if (file.status !== 'available') throw new FilesErrors.FileNotFound()
      return sendFile(reply, file, await options.service.open(file), 'private, no-store')
    },
  )
}
