/** Stable codes of the command line's own refusals (not of a merge or a migration). */
export type CliErrorCode =
  | 'ACME_CLI_PRISMA_NOT_INSTALLED'
  | 'ACME_CLI_PRISMA_COMMAND_UNSUPPORTED'
  | 'ACME_CLI_INIT_CONFLICT'
  | 'ACME_CLI_KEY_OPTION_INVALID'

/** A refusal of the `acme` command that says what to do instead; the CLI prints `code: message`. */
export class CliError extends Error {
  override readonly name = 'CliError'
  readonly code: CliErrorCode

  constructor(code: CliErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
