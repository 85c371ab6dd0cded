import { waitFor } from '@acme/test-kit'
import type { TestApp } from './app.js'

/**
 * The BullMQ job ids of a scheduled job's runs across app instances, read from the line each run
 * logs (`doneMessage` with its `jobId`), once at least `atLeast` runs happened. A tick's job id is
 * `repeat:<key>:<tick>`: a repeated id means a tick ran twice.
 */
export async function scheduledRunIds(
  instances: readonly Pick<TestApp, 'logs'>[],
  doneMessage: string,
  { atLeast = 3, timeoutMs = 15_000 }: { atLeast?: number; timeoutMs?: number } = {},
): Promise<string[]> {
  const runs = () =>
    instances.flatMap((instance) =>
      instance.logs.filter((line) => line.msg === doneMessage).map((line) => String(line.jobId)),
    )
  await waitFor(() => runs().length >= atLeast, { timeoutMs, intervalMs: 100 })
  return runs()
}
