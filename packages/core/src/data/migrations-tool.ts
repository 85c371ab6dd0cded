import type { MigrationsTool } from './migrations-check.js'

/**
 * Loads @acme/cli, an optional peer of core: only apps with a migrations folder need it, and it
 * carries the schema engines core itself has no use for. Null when the app has not installed it.
 */
export async function loadMigrationsTool(): Promise<MigrationsTool | null> {
  try {
    // Assigned to the interface so a change of the CLI's API fails core's typecheck.
    const tool: MigrationsTool = await import('@acme/cli')
    return tool
  } catch (error) {
    if (isCliMissing(error)) return null
    throw error
  }
}

function isCliMissing(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = Reflect.get(error, 'code')
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    error.message.includes('@acme/cli')
  )
}
