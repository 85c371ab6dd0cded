import { getRequestContext, type JobContext, type JobRunner } from '@acme/core'
import { z } from 'zod'
import { TenancyErrors } from './errors.js'
import type { TenantScopedClient } from './scoped-client.js'

export interface TenantJobContext extends JobContext {
  tenantId: string
  /** A client scoped to the job's tenant, in one transaction for the run. */
  db: TenantScopedClient
}

export interface TenantJobDefinition<S extends z.ZodType> {
  name: string
  schema: S
  handler: (payload: z.output<S>, context: TenantJobContext) => Promise<void>
  attempts?: number
  backoffMs?: number
  concurrency?: number
}

export interface TenantJobHandle<Payload> {
  readonly name: string
  /**
   * Enqueues for the current request's tenant, or for `options.tenantId` outside requests (inside
   * a tenant's request, naming another tenant is refused with the 404 of an unknown tenant).
   */
  enqueue(
    payload: Payload,
    options?: { tenantId?: string; delayMs?: number },
  ): Promise<{ id: string }>
}

/**
 * A job that carries its tenant and runs scoped to it. The tenant travels in the payload next to
 * the data and is checked before the handler runs: a payload without one fails validation, so
 * the handler never sees an unscoped run.
 */
export function defineTenantJob<S extends z.ZodType>(
  jobs: JobRunner,
  withTenant: <R>(tenantId: string, work: (db: TenantScopedClient) => Promise<R>) => Promise<R>,
  definition: TenantJobDefinition<S>,
): TenantJobHandle<z.input<S>> {
  const envelope = z.object({ tenantId: z.uuid(), data: definition.schema }).strict()
  const handle = jobs.define({
    name: definition.name,
    schema: envelope,
    ...(definition.attempts === undefined ? {} : { attempts: definition.attempts }),
    ...(definition.backoffMs === undefined ? {} : { backoffMs: definition.backoffMs }),
    ...(definition.concurrency === undefined ? {} : { concurrency: definition.concurrency }),
    handler: async (payload, context) => {
      const { tenantId, data } = payload as { tenantId: string; data: z.output<S> }
      await withTenant(tenantId, (db) => definition.handler(data, { ...context, tenantId, db }))
    },
  })
  return {
    name: definition.name,
    enqueue(payload, options = {}) {
      const current = getRequestContext()?.tenant?.id
      // Inside a tenant's request, work for another tenant is refused: a tenant id taken from
      // user input must not reach a job that would then run as that tenant.
      if (options.tenantId && current && options.tenantId !== current) {
        return Promise.reject(new TenancyErrors.TenantNotFound())
      }
      const tenantId = options.tenantId ?? current
      if (!tenantId) return Promise.reject(new TenancyErrors.TenantRequired())
      return handle.enqueue(
        { tenantId, data: payload } as z.input<typeof envelope>,
        options.delayMs === undefined ? {} : { delayMs: options.delayMs },
      )
    },
  }
}
