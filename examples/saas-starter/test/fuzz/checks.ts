/** What a response must never be or carry (VAL-02), whatever the request sent. */

export interface Observation {
  status: number
  contentType: string
  body: string
  ms: number
}

export interface Finding {
  check: string
  /** The error code of the response (its `code`, or Fastify's), or a short excerpt. */
  code: string
}

export const MAX_RESPONSE_MS = 5000
export const CODE_PATTERN = /^ACME_[A-Z0-9]+_[A-Z0-9_]+$/

/** Operations whose documented job is to hand a token or a key to its owner. */
export const TOKEN_OPERATIONS = new Set([
  'POST /auth/login',
  'POST /auth/login/mfa',
  'POST /auth/refresh',
  'POST /auth/api-keys',
  'POST /tenants/{tenantId}/api-keys',
  'POST /tenants/{tenantId}/switch',
])

const LEAKS: Array<[check: string, pattern: RegExp]> = [
  ['stack trace', /(?: {4}at |\\n\s*at \S+ \()/],
  [
    'SQL or database error',
    /SELECT |INSERT INTO|UPDATE "|DELETE FROM|syntax error at|violates [a-z ]*constraint|duplicate key value|invalid byte sequence|PrismaClient|Invalid `prisma/,
  ],
  ['file path', /\/work\/|\/home\/|node_modules|\.[cm]?[jt]s:\d/],
  ['argon2 hash', /\$argon2/],
  ['JWT', /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./],
  ['API key', /ak_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/],
]

/**
 * Every rule broken by one response. `secrets` are the refresh and access tokens the run holds:
 * none may appear in a body, except a 2xx of an operation in TOKEN_OPERATIONS.
 */
export function checkResponse(
  operationKey: string,
  observed: Observation,
  secrets: Iterable<string>,
): Finding[] {
  const findings: Finding[] = []
  const code = codeOf(observed.body)
  if (observed.status >= 500) findings.push({ check: 'status >= 500', code })
  if (observed.status >= 400) findings.push(...checkProblem(observed, code))
  const tokenAllowed = TOKEN_OPERATIONS.has(operationKey) && observed.status < 300
  for (const [check, pattern] of LEAKS) {
    if ((check === 'JWT' || check === 'API key') && tokenAllowed) continue
    const match = pattern.exec(observed.body)
    if (match)
      findings.push({
        check: `leaks ${check}`,
        code: `${code} (${excerpt(observed.body, match.index)})`,
      })
  }
  if (!tokenAllowed) {
    for (const secret of secrets) {
      if (secret && observed.body.includes(secret)) {
        findings.push({ check: 'leaks a token of the run', code })
        break
      }
    }
  }
  if (observed.ms > MAX_RESPONSE_MS) {
    findings.push({
      check: `slower than ${MAX_RESPONSE_MS} ms`,
      code: `${code} (${Math.round(observed.ms)} ms)`,
    })
  }
  return findings
}

function checkProblem(observed: Observation, code: string): Finding[] {
  const findings: Finding[] = []
  if (!observed.contentType.startsWith('application/problem+json')) {
    findings.push({
      check: `not problem+json (${observed.contentType || 'no content type'})`,
      code,
    })
  }
  let problem: Record<string, unknown>
  try {
    problem = JSON.parse(observed.body) as Record<string, unknown>
  } catch {
    return [...findings, { check: 'error body is not JSON', code }]
  }
  if (typeof problem.code !== 'string' || !CODE_PATTERN.test(problem.code)) {
    findings.push({ check: 'code not from the ACME catalogue', code })
  }
  const missing = ['type', 'title', 'detail', 'instance'].filter(
    (member) => typeof problem[member] !== 'string',
  )
  if (problem.status !== observed.status) missing.push('status')
  if (missing.length > 0) {
    findings.push({ check: `RFC 9457 members missing or wrong: ${missing.join(', ')}`, code })
  }
  return findings
}

/** The response's error code, else the start of its body (Fastify's own errors have `code` too). */
export function codeOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown; error?: unknown }
    if (typeof parsed.code === 'string') return parsed.code
    if (typeof parsed.error === 'string') return `error: ${parsed.error}`
  } catch {
    // not JSON: fall through
  }
  return body ? excerpt(body, 0) : '-'
}

function excerpt(text: string, index: number): string {
  return JSON.stringify(text.slice(Math.max(0, index - 20), index + 60))
}
