/** Why core refused to start on the app's database; codes never change once published. */
export type MigrationsErrorCode =
  | 'ACME_CORE_MIGRATIONS_PENDING'
  | 'ACME_CORE_MIGRATIONS_FAILED'
  | 'ACME_CORE_MIGRATIONS_CHANGED'
  | 'ACME_CORE_MIGRATIONS_TOOL_MISSING'

/**
 * Thrown from `app.ready()` when the database does not match the app's migrations folder, so the
 * app stops at startup with the fix instead of failing on its first query with a missing table.
 */
export class AcmeMigrationsError extends Error {
  override readonly name = 'AcmeMigrationsError'
  readonly code: MigrationsErrorCode
  /** The migrations folder that was compared with the database. */
  readonly migrationsDir: string
  /** The migrations the code is about (pending, failed or changed ones). */
  readonly migrations: readonly string[]

  constructor(
    code: MigrationsErrorCode,
    message: string,
    details: { migrationsDir: string; migrations?: readonly string[] },
  ) {
    super(message)
    this.code = code
    this.migrationsDir = details.migrationsDir
    this.migrations = details.migrations ?? []
  }
}
