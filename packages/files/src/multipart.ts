import multipart from '@fastify/multipart'
import type { FastifyInstance } from 'fastify'

/**
 * Multipart parsing for upload routes, to register in the encapsulated scope of routes that call
 * `app.files.receive` (the plugin's own upload route has it). Nothing is buffered: parts are
 * streams, and `receive` sets the limits of each request.
 */
export async function filesMultipart(scope: FastifyInstance): Promise<void> {
  await scope.register(multipart, {
    // Limits come from each call of `receive`; these only cap a route that forgot them.
    limits: { fileSize: 10 * 1024 * 1024, files: 20, fields: 20, fieldSize: 8 * 1024, parts: 40 },
    throwFileSizeLimit: true,
  })
}
