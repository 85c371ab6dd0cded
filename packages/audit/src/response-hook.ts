import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { ActionRegistry } from './actions.js'
import type { BackgroundWriter } from './background-writer.js'
import { originOf } from './request-info.js'

export const routeMetadata = z
  .object({ method: z.string(), route: z.string(), status: z.number().int() })
  .strict()

/**
 * `access.denied` for each 403 on a request with a tenant, and `data.read` for each successful
 * call of a route declaring `config.audit: 'read'`: one hook for both, reading what Fastify
 * already holds, so a response with nothing to record costs no I/O. Callback style: that common
 * case costs no promise either.
 */
export function installResponseHook(
  app: FastifyInstance,
  options: { actions: ActionRegistry; writer: BackgroundWriter; deniedAccess: boolean },
): void {
  const { actions, writer } = options
  actions.define({ name: 'access.denied', metadata: routeMetadata })
  actions.define({ name: 'data.read', metadata: routeMetadata })
  app.addHook('onResponse', (request, reply, done) => {
    const tenant = request.tenant
    const denied = reply.statusCode === 403 && options.deniedAccess
    const read = request.routeOptions.config.audit === 'read' && reply.statusCode < 400
    if (!tenant || (!denied && !read)) {
      done()
      return
    }
    const action = denied ? 'access.denied' : 'data.read'
    const metadata = {
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0] ?? '',
      status: reply.statusCode,
    }
    // The response is sent: the entry is written in the background.
    void writer.write({
      action,
      content: actions.check(action, { metadata }),
      targets: [],
      origin: { ...originOf(request), tenantId: tenant.id },
    })
    done()
  })
}
