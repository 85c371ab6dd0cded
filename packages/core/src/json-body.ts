import type { FastifyInstance, FastifyRequest } from 'fastify'
import secureJson from 'secure-json-parse'
import { CoreErrors } from './errors.js'

const OPEN_OBJECT = 0x7b
const OPEN_ARRAY = 0x5b
const CLOSE_OBJECT = 0x7d
const CLOSE_ARRAY = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Measures nesting without parsing, so a 1,000-deep body is refused before JSON.parse and
 * the validators recurse into it. Brackets inside strings do not count.
 */
export function exceedsDepth(text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index)
    if (inString) {
      if (char === BACKSLASH) index++
      else if (char === QUOTE) inString = false
      continue
    }
    if (char === QUOTE) inString = true
    else if (char === OPEN_OBJECT || char === OPEN_ARRAY) {
      if (++depth > maxDepth) return true
    } else if (char === CLOSE_OBJECT || char === CLOSE_ARRAY) depth--
  }
  return false
}

export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') throw new CoreErrors.EmptyJsonBody()
  if (exceedsDepth(text, maxDepth)) {
    throw new CoreErrors.JsonTooDeep({
      detail: `The request body nests objects or arrays deeper than ${maxDepth} levels.`,
    })
  }
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (error) {
    if (error instanceof SyntaxError && /forbidden prototype property/.test(error.message)) {
      throw new CoreErrors.ForbiddenJsonKey({ cause: error })
    }
    throw new CoreErrors.MalformedJson({ cause: error })
  }
}

/** Replaces Fastify's JSON parser app-wide with one that also bounds nesting depth. */
export function installJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (_request: FastifyRequest, body: string | Buffer, done) => {
      try {
        done(null, parseJsonBody(body.toString(), maxDepth))
      } catch (error) {
        done(error as Error, undefined)
      }
    },
  )
}
