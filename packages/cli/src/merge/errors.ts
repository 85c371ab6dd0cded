/** Stable codes: the CLI prints them and CI logs are searched for them, so never rename one. */
export type MergeErrorCode =
  | 'ACME_CLI_FRAGMENT_SYNTAX'
  | 'ACME_CLI_SCHEMA_SYNTAX'
  | 'ACME_CLI_FRAGMENT_INVALID'
  | 'ACME_CLI_FRAGMENT_NOT_FOUND'
  | 'ACME_CLI_DUPLICATE_FRAGMENT'
  | 'ACME_CLI_DUPLICATE_MODEL'
  | 'ACME_CLI_EXTEND_NEEDS_SINGLE_FILE'
  | 'ACME_CLI_SCHEMA_INVALID'
  | 'ACME_CLI_INPUT_NOT_FOUND'
  | 'ACME_CLI_PACKAGE_JSON_INVALID'
  | 'ACME_CLI_OUTPUT_OVERLAPS_INPUT'
  | 'ACME_CLI_OUTPUT_NOT_GENERATED'
  | 'ACME_CLI_TENANT_ID_MISSING'

/** A place in a file the user can open: path relative to the merge's cwd, 1-based line. */
export interface SourceLocation {
  file: string
  line: number
}

export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}`
}

export class MergeError extends Error {
  override readonly name = 'MergeError'
  readonly code: MergeErrorCode
  /** Every file:line the message refers to, so tools can link to them without parsing text. */
  readonly locations: SourceLocation[]

  constructor(code: MergeErrorCode, message: string, locations: SourceLocation[] = []) {
    super(message)
    this.code = code
    this.locations = locations
  }
}
