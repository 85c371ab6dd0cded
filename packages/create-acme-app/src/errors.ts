/** What stops a project from being created; `code` is stable, the message says what to do. */
export class CreateAppError extends Error {
  readonly code: `ACME_CREATE_${string}`

  constructor(code: `ACME_CREATE_${string}`, message: string) {
    super(message)
    this.name = 'CreateAppError'
    this.code = code
  }
}
