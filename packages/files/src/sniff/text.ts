import type { TextType } from './types.js'

/**
 * Confirms, while the bytes stream past, that a file is the text format it was taken for:
 * valid UTF-8 throughout, then the format's own grammar. Nothing is buffered beyond one token.
 * `write` and `end` answer null while the content is valid, else what is wrong.
 */
export interface TextValidator {
  write(chunk: Uint8Array): string | null
  end(): string | null
}

type CharCheck = { chars(text: string): string | null; end(): string | null }

export function textValidator(type: TextType): TextValidator {
  const check: CharCheck =
    type === 'application/json' ? jsonCheck() : type === 'text/csv' ? csvCheck() : plainCheck()
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
  let failed: string | null = null
  const decode = (chunk: Uint8Array | undefined): string | null => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode()
    } catch {
      failed = 'not valid UTF-8'
      return null
    }
  }
  return {
    write(chunk) {
      if (failed) return failed
      const text = decode(chunk)
      if (text === null) return failed
      failed = check.chars(text)
      return failed
    },
    end() {
      if (failed) return failed
      const text = decode(undefined)
      if (text === null) return failed
      failed = check.chars(text) ?? check.end()
      return failed
    },
  }
}

// C0 controls other than tab, line feed, form feed and carriage return, and DEL: binary, not text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u0008\u000B\u000E-\u001F\u007F]/

function plainCheck(): CharCheck {
  return {
    chars: (text) => (CONTROL.test(text) ? 'control characters in text' : null),
    end: () => null,
  }
}

/** RFC 4180: quoted fields, doubled quotes, and the same number of fields on every record. */
function csvCheck(): CharCheck {
  let state: 'start' | 'unquoted' | 'quoted' | 'quote' = 'start'
  let fields = 1
  let expected: number | null = null
  let record = 1
  let recordHasContent = false
  let lastWasCr = false
  const endRecord = (): string | null => {
    if (!recordHasContent && fields === 1) return null // blank line
    if (expected === null) expected = fields
    else if (fields !== expected) {
      return `record ${record} has ${fields} fields, the first has ${expected}`
    }
    record += 1
    fields = 1
    recordHasContent = false
    return null
  }
  return {
    chars(text) {
      if (CONTROL.test(text)) return 'control characters in CSV'
      for (const char of text) {
        if (state === 'quoted') {
          if (char === '"') state = 'quote'
          continue
        }
        if (state === 'quote') {
          if (char === '"') {
            state = 'quoted'
            continue
          }
          if (char !== ',' && char !== '\n' && char !== '\r') {
            return `record ${record}: text after a closing quote`
          }
          state = 'unquoted'
        }
        if (char === ',') {
          fields += 1
          recordHasContent = true
          state = 'start'
        } else if (char === '\n' || char === '\r') {
          if (char === '\n' && lastWasCr) {
            lastWasCr = false
            continue
          }
          lastWasCr = char === '\r'
          const problem = endRecord()
          if (problem) return problem
          state = 'start'
          continue
        } else if (char === '"') {
          if (state !== 'start') return `record ${record}: a quote inside an unquoted field`
          state = 'quoted'
          recordHasContent = true
        } else {
          state = 'unquoted'
          recordHasContent = true
        }
        lastWasCr = false
      }
      return null
    },
    end() {
      if (state === 'quoted') return `record ${record}: a quoted field is not closed`
      return endRecord()
    },
  }
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const MAX_DEPTH = 256
const MAX_NUMBER_LENGTH = 512

/** A JSON grammar check that holds one token at a time (a number, a literal), never the text. */
function jsonCheck(): CharCheck {
  type Expect = 'value' | 'valueOrClose' | 'keyOrClose' | 'key' | 'colon' | 'commaOrClose' | 'end'
  let expect: Expect = 'value'
  const stack: Array<'{' | '['> = []
  let inString = false
  let stringIsKey = false
  let escaped = false
  let hexLeft = 0
  let number: string | null = null
  let literal: { word: string; at: number } | null = null

  const valueDone = () => {
    expect = stack.length === 0 ? 'end' : 'commaOrClose'
  }
  const finishNumber = (): string | null => {
    if (number === null) return null
    const ok = NUMBER.test(number)
    number = null
    if (!ok) return 'malformed number'
    valueDone()
    return null
  }
  const startsValue = () => expect === 'value' || expect === 'valueOrClose'

  const step = (char: string): string | null => {
    if (inString) {
      if (hexLeft > 0) {
        if (!/[0-9a-fA-F]/.test(char)) return 'malformed \\u escape'
        hexLeft -= 1
      } else if (escaped) {
        if (char === 'u') hexLeft = 4
        else if (!'"\\/bfnrt'.includes(char)) return 'malformed escape'
        escaped = false
      } else if (char === '\\') escaped = true
      else if (char === '"') {
        inString = false
        if (stringIsKey) expect = 'colon'
        else valueDone()
      } else if (char < ' ') return 'control character in a string'
      return null
    }
    if (number !== null) {
      if (/[0-9+\-.eE]/.test(char)) {
        number += char
        return number.length > MAX_NUMBER_LENGTH ? 'number too long' : null
      }
      const problem = finishNumber()
      if (problem) return problem
    }
    if (literal) {
      if (char !== literal.word[literal.at]) return 'unexpected character'
      literal.at += 1
      if (literal.at === literal.word.length) {
        literal = null
        valueDone()
      }
      return null
    }
    if (char === ' ' || char === '\n' || char === '\r' || char === '\t') return null
    if (char === '{' || char === '[') {
      if (!startsValue()) return `unexpected ${char}`
      if (stack.length >= MAX_DEPTH) return 'nested too deep'
      stack.push(char)
      expect = char === '{' ? 'keyOrClose' : 'valueOrClose'
      return null
    }
    if (char === '}' || char === ']') {
      const open = char === '}' ? '{' : '['
      const closable =
        (expect === 'commaOrClose' && stack.at(-1) === open) ||
        (char === '}' && expect === 'keyOrClose') ||
        (char === ']' && expect === 'valueOrClose')
      if (!closable) return `unexpected ${char}`
      stack.pop()
      valueDone()
      return null
    }
    if (char === ',') {
      if (expect !== 'commaOrClose') return 'unexpected ,'
      expect = stack.at(-1) === '{' ? 'key' : 'value'
      return null
    }
    if (char === ':') {
      if (expect !== 'colon') return 'unexpected :'
      expect = 'value'
      return null
    }
    if (char === '"') {
      if (expect === 'key' || expect === 'keyOrClose') stringIsKey = true
      else if (startsValue()) stringIsKey = false
      else return 'unexpected string'
      inString = true
      return null
    }
    if (!startsValue()) return 'unexpected character'
    if (char === '-' || (char >= '0' && char <= '9')) {
      number = char
      return null
    }
    const word = char === 't' ? 'true' : char === 'f' ? 'false' : char === 'n' ? 'null' : null
    if (!word) return 'unexpected character'
    literal = { word, at: 1 }
    return null
  }

  return {
    chars(text) {
      for (const char of text) {
        const problem = step(char)
        if (problem) return `not JSON: ${problem}`
      }
      return null
    },
    end() {
      const problem = finishNumber()
      if (problem) return `not JSON: ${problem}`
      if (inString || literal || expect !== 'end') return 'not JSON: it ends too early'
      return null
    },
  }
}
