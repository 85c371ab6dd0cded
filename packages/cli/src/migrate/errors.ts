export type MigrateErrorCode =
  | 'ACME_CLI_SCHEMA_ENGINE'
  | 'ACME_CLI_SCHEMA_NOT_FOUND'
  | 'ACME_CLI_SNAPSHOT_MISSING'
  | 'ACME_CLI_MIGRATION_EXISTS'
  | 'ACME_CLI_MIGRATION_LOCK_PROVIDER'
  | 'ACME_CLI_MIGRATION_FILE_MISSING'
  | 'ACME_CLI_MIGRATION_CHANGED'
  | 'ACME_CLI_MIGRATION_FAILED'
  | 'ACME_CLI_MIGRATION_SQL_FAILED'
  | 'ACME_CLI_TENANT_ID_MISSING'
  | 'ACME_CLI_MANIFEST_STALE'
  | 'ACME_CLI_DATABASE_URL_MISSING'
  | 'ACME_CLI_ROLE_NAME_INVALID'
  | 'ACME_CLI_APP_ROLE_UNSAFE'
  | 'ACME_CLI_APP_ROLE_FAILED'
  | 'ACME_CLI_PASSWORD_ENV_EMPTY'
  | 'ACME_CLI_TARGET_READ_ONLY'

/**
 * Every failure of `acme migrate *` and `acme db *` the user can act on. `code` is stable (scripts and the CLI
 * branch on it); `message` says what happened and what to do next.
 */
export class MigrateError extends Error {
  override readonly name = 'MigrateError'
  readonly code: MigrateErrorCode
  /** The migration folder names the error is about, when it is about some. */
  readonly migrations: readonly string[]

  constructor(
    code: MigrateErrorCode,
    message: string,
    options: { migrations?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.migrations = options.migrations ?? []
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
