import type { TranscriptRow } from './transcript.js'

export interface CallOptions {
  params?: Record<string, string>
  body?: unknown
  token?: string
  tenantId?: string
}

export interface Answer {
  status: number
  body: unknown
}

/**
 * A client for one app over real HTTP that writes down each call as a transcript row (who,
 * method and path template, status), to compare with the page's table.
 */
export class HttpSession {
  readonly transcript: TranscriptRow[] = []

  constructor(private readonly baseUrl: string) {}

  async call(who: string, request: string, options: CallOptions = {}): Promise<Answer> {
    const [method = '', template = ''] = request.split(' ')
    const path = template.replace(/:(\w+)/g, (_, name: string) => {
      const value = options.params?.[name]
      if (value === undefined) throw new Error(`${request}: no value for :${name}`)
      return encodeURIComponent(value)
    })
    const headers: Record<string, string> = {}
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    if (options.token) headers.authorization = `Bearer ${options.token}`
    if (options.tenantId) headers['x-tenant-id'] = options.tenantId
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    })
    const text = await response.text()
    this.transcript.push({ who, request: `${method} ${template}`, status: response.status })
    return { status: response.status, body: parsed(text) }
  }
}

/** A string field of a JSON answer, or an error that shows the whole answer. */
export function stringField(answer: Answer, name: string): string {
  const value = (answer.body as Record<string, unknown> | undefined)?.[name]
  if (typeof value !== 'string') {
    throw new Error(`no "${name}" in the answer: ${answer.status} ${JSON.stringify(answer.body)}`)
  }
  return value
}

function parsed(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
