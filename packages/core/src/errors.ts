/** A field-level problem inside a 400 response: `path` is a JSON pointer into the request part. */
export interface ProblemFieldError {
  /** Which part of the request the field is in. */
  in: 'body' | 'query' | 'params' | 'headers'
  /** JSON pointer to the field, e.g. `/email` or `/items/0/name`; `''` for the part itself. */
  pointer: string
  /** Human-readable reason, in English. */
  message: string
  /** Machine-readable reason from the validator (zod issue code). */
  reason: string
}

export interface AcmeErrorOptions {
  /** Overrides the catalogue's default detail for this occurrence. */
  detail?: string
  /** Field errors for a 400. */
  errors?: ProblemFieldError[]
  /** Response headers the problem needs (e.g. `retry-after`). */
  headers?: Record<string, string>
  /** Extra members added to the problem document (RFC 9457 extensions). */
  extensions?: Record<string, unknown>
  /** The underlying error; logged, never sent to the client. */
  cause?: unknown
}

/**
 * Marks AcmeErrors across copies of core: an app that ends up with two copies (two plugin
 * versions resolving different cores) still recognises an error made by the other one. The key
 * and the shape checked with it never change.
 */
const ACME_ERROR_BRAND = Symbol.for('acme.core.error')
const ACME_CONFIG_ERROR_BRAND = Symbol.for('acme.core.configError')

/**
 * The one error type every acme package throws for an expected failure. Core's error handler
 * renders it as problem+json with its stable `code`; anything else becomes a generic 500.
 * `instanceof AcmeError` (and `instanceof` a class from `defineError`, by its code) also holds
 * for an error made by another copy of core.
 */
export class AcmeError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly title: string
  readonly detail: string
  readonly errors: ProblemFieldError[] | undefined
  readonly headers: Record<string, string> | undefined
  readonly extensions: Record<string, unknown> | undefined

  constructor(
    code: string,
    statusCode: number,
    title: string,
    detail: string,
    options: AcmeErrorOptions = {},
  ) {
    super(options.detail ?? detail, options.cause === undefined ? {} : { cause: options.cause })
    this.name = 'AcmeError'
    this.code = code
    this.statusCode = statusCode
    this.title = title
    this.detail = options.detail ?? detail
    this.errors = options.errors
    this.headers = options.headers
    this.extensions = options.extensions
  }
}
Object.defineProperty(AcmeError.prototype, ACME_ERROR_BRAND, { value: true })
// `instanceof` asks the class it is used with (`this`): AcmeError, or a subclass.
Object.defineProperty(AcmeError, Symbol.hasInstance, {
  value: function hasInstance(this: Constructor, value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true
    if (!isAcmeError(value)) return false
    if (this === AcmeError) return true
    // A class from defineError (another copy's has the same code); not other subclasses.
    const code = Object.hasOwn(this, 'code') ? (this as { code?: unknown }).code : undefined
    return typeof code === 'string' && value.code === code
  },
})

type Constructor = abstract new (...args: never[]) => unknown

export interface AcmeErrorClass {
  new (options?: AcmeErrorOptions): AcmeError
  readonly code: string
  readonly statusCode: number
  readonly title: string
}

/**
 * Declares one entry of a package's error catalogue. Each package keeps its entries in its
 * `errors.ts`, with `ACME_<PKG>_*` codes that never change once published.
 */
export function defineError(
  code: string,
  statusCode: number,
  title: string,
  defaultDetail: string = title,
): AcmeErrorClass {
  if (!/^ACME_[A-Z0-9]+_[A-Z0-9_]+$/.test(code)) {
    throw new TypeError(`Error code "${code}" must look like ACME_<PACKAGE>_<NAME>`)
  }
  if (statusCode < 400 || statusCode > 599) {
    throw new TypeError(`Error "${code}" needs a 4xx or 5xx status, got ${statusCode}`)
  }
  const DefinedError = class extends AcmeError {
    static readonly code = code
    static readonly statusCode = statusCode
    static readonly title = title
    constructor(options?: AcmeErrorOptions) {
      super(code, statusCode, title, defaultDetail, options)
    }
  }
  Object.defineProperty(DefinedError, 'name', { value: code })
  return DefinedError
}

/**
 * True for an AcmeError from this or any other copy of core (another copy's carries the brand
 * and the fields core's error handler renders). Anything else thrown is a 500.
 */
export function isAcmeError(value: unknown): value is AcmeError {
  if (Function.prototype[Symbol.hasInstance].call(AcmeError, value)) return true
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { [ACME_ERROR_BRAND]?: unknown } & Partial<Record<string, unknown>>
  return (
    candidate[ACME_ERROR_BRAND] === true &&
    typeof candidate.code === 'string' &&
    typeof candidate.statusCode === 'number' &&
    Number.isInteger(candidate.statusCode) &&
    candidate.statusCode >= 400 &&
    candidate.statusCode <= 599 &&
    typeof candidate.title === 'string' &&
    typeof candidate.detail === 'string' &&
    (candidate.errors === undefined || Array.isArray(candidate.errors)) &&
    isOptionalObject(candidate.headers) &&
    isOptionalObject(candidate.extensions)
  )
}

function isOptionalObject(value: unknown): boolean {
  return value === undefined || (typeof value === 'object' && value !== null)
}

/**
 * Thrown at registration when an option is invalid, so `app.ready()` fails naming it.
 * `instanceof AcmeConfigError` also holds for one made by another copy of core.
 */
export class AcmeConfigError extends Error {
  readonly code = 'ACME_CORE_INVALID_OPTION'
  constructor(pluginName: string, problems: string[]) {
    super(`${pluginName}: invalid options:\n  - ${problems.join('\n  - ')}`)
    this.name = 'AcmeConfigError'
  }
}
Object.defineProperty(AcmeConfigError.prototype, ACME_CONFIG_ERROR_BRAND, { value: true })
Object.defineProperty(AcmeConfigError, Symbol.hasInstance, {
  value: function hasInstance(this: Constructor, value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true
    return (
      this === AcmeConfigError &&
      typeof value === 'object' &&
      value !== null &&
      (value as { [ACME_CONFIG_ERROR_BRAND]?: unknown })[ACME_CONFIG_ERROR_BRAND] === true &&
      (value as { code?: unknown }).code === 'ACME_CORE_INVALID_OPTION'
    )
  },
})

/** Core's catalogue. Codes are part of the public API: see docs/core.md#errors. */
export const CoreErrors = {
  BadRequest: defineError('ACME_CORE_BAD_REQUEST', 400, 'Bad Request', 'The request is invalid.'),
  ValidationFailed: defineError(
    'ACME_CORE_VALIDATION_FAILED',
    400,
    'Validation Failed',
    'The request has invalid fields; see errors[].',
  ),
  MalformedJson: defineError(
    'ACME_CORE_MALFORMED_JSON',
    400,
    'Malformed JSON',
    'The request body is not valid JSON.',
  ),
  EmptyJsonBody: defineError(
    'ACME_CORE_EMPTY_JSON_BODY',
    400,
    'Empty JSON Body',
    'The request declares a JSON body but sent none.',
  ),
  JsonTooDeep: defineError(
    'ACME_CORE_JSON_TOO_DEEP',
    400,
    'JSON Too Deeply Nested',
    'The request body nests objects or arrays deeper than allowed.',
  ),
  ForbiddenJsonKey: defineError(
    'ACME_CORE_FORBIDDEN_JSON_KEY',
    400,
    'Forbidden JSON Key',
    'The request body contains a "__proto__" or "constructor.prototype" key.',
  ),
  UnstorableValue: defineError(
    'ACME_CORE_UNSTORABLE_VALUE',
    400,
    'Unstorable Value',
    'The request holds a value that cannot be stored (a control character, or out of range).',
  ),
  BadUrl: defineError(
    'ACME_CORE_BAD_URL',
    400,
    'Bad URL',
    'The request path is not a valid URL (malformed percent-encoding).',
  ),
  Unauthorized: defineError(
    'ACME_CORE_UNAUTHORIZED',
    401,
    'Unauthorized',
    'Authentication is required.',
  ),
  Forbidden: defineError(
    'ACME_CORE_FORBIDDEN',
    403,
    'Forbidden',
    'You are not allowed to do this.',
  ),
  NotFound: defineError('ACME_CORE_NOT_FOUND', 404, 'Not Found', 'The resource does not exist.'),
  RouteNotFound: defineError(
    'ACME_CORE_ROUTE_NOT_FOUND',
    404,
    'Not Found',
    'No route matches this method and path.',
  ),
  RequestTimeout: defineError(
    'ACME_CORE_REQUEST_TIMEOUT',
    408,
    'Request Timeout',
    'The request was not received in time.',
  ),
  Conflict: defineError(
    'ACME_CORE_CONFLICT',
    409,
    'Conflict',
    'The request conflicts with the current state.',
  ),
  // One code wherever owners are counted (a tenant's with tenancy, the app's with rbac alone).
  LastOwner: defineError(
    'ACME_CORE_LAST_OWNER',
    409,
    'Last Owner',
    'At least one owner must remain: give the owner role to someone else first.',
  ),
  PayloadTooLarge: defineError(
    'ACME_CORE_PAYLOAD_TOO_LARGE',
    413,
    'Payload Too Large',
    'The request body is larger than allowed.',
  ),
  UriTooLong: defineError(
    'ACME_CORE_URI_TOO_LONG',
    414,
    'URI Too Long',
    'A segment of the request path is longer than allowed.',
  ),
  UnsupportedMediaType: defineError(
    'ACME_CORE_UNSUPPORTED_MEDIA_TYPE',
    415,
    'Unsupported Media Type',
    'The request body has a content type this route does not accept.',
  ),
  RateLimited: defineError(
    'ACME_CORE_RATE_LIMITED',
    429,
    'Too Many Requests',
    'Too many requests; retry after the time given in the Retry-After header.',
  ),
  HeadersTooLarge: defineError(
    'ACME_CORE_HEADERS_TOO_LARGE',
    431,
    'Request Header Fields Too Large',
    'The request line or headers are larger than allowed.',
  ),
  Internal: defineError(
    'ACME_CORE_INTERNAL',
    500,
    'Internal Server Error',
    'An unexpected error occurred. Quote the request id when you contact support.',
  ),
  DependencyUnavailable: defineError(
    'ACME_CORE_DEPENDENCY_UNAVAILABLE',
    503,
    'Service Unavailable',
    'A service this request depends on is temporarily unavailable; retry shortly.',
  ),
  ShuttingDown: defineError(
    'ACME_CORE_SHUTTING_DOWN',
    503,
    'Service Unavailable',
    'The server is restarting; retry shortly.',
  ),
  InvalidJobPayload: defineError(
    'ACME_CORE_INVALID_JOB_PAYLOAD',
    500,
    'Invalid Job Payload',
    'A background job was enqueued with a payload that does not match its schema.',
  ),
} as const
