import { runWithContext } from '@acme/core'

/**
 * Runs a job's work under the id of the request that queued it, so the events it emits carry
 * that request id as if the request had emitted them.
 */
export function asRequest<T>(requestId: string | null, work: () => Promise<T>): Promise<T> {
  if (requestId === null) return work()
  return runWithContext({ requestId, user: null, tenant: null }, work)
}
