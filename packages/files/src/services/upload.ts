import { createHash, randomUUID } from 'node:crypto'
import { Readable, Transform, Writable } from 'node:stream'
import { isAcmeError } from '@acme/core'
import { inspectZip, ZIP_ARCHIVE_TYPES } from '../archive/inspect.js'
import { rangeReaderOf } from '../archive/reader.js'
import { FilesErrors } from '../errors.js'
import { sanitiseFileName } from '../names.js'
import type { UploadLimits } from '../options.js'
import { claimedTypes, claimsMatch, SNIFF_BYTES, sniff } from '../sniff/detect.js'
import { SVG_MAX_BYTES, svgSanitiser } from '../sniff/svg.js'
import { type TextValidator, textValidator } from '../sniff/text.js'
import type { StorageDriver } from '../storage/driver.js'
import type { NewFile } from './store.js'

/** A multipart part as the parser hands it over (the shape of @fastify/multipart's). */
export type UploadPart =
  | {
      type: 'file'
      filename: string
      mimetype: string
      file: Readable & { truncated?: boolean }
    }
  | { type: 'field'; fieldnameTruncated?: boolean; valueTruncated?: boolean }

export interface UploadContext {
  tenantId: string
  ownerId: string
  storage: StorageDriver
  limits: UploadLimits
  /** Bytes the tenant may still store (null: unlimited); re-checked atomically at the end. */
  remainingBytes: number | null
  status: NewFile['status']
}

/**
 * Reads every part, storing each file under a server-generated key as it streams: typed by its
 * first bytes before anything is written, hashed and counted on the way, refused (and its
 * partial object removed by the driver) the moment a limit is passed. Answers the files to
 * record; on any error, removes every object it stored and rethrows: all or nothing.
 */
export async function receiveParts(
  parts: AsyncIterable<UploadPart>,
  context: UploadContext,
): Promise<NewFile[]> {
  const stored: NewFile[] = []
  let totalBytes = 0
  const allowed = new Set(context.limits.allowedTypes)
  try {
    for await (const part of parts) {
      if (part.type === 'field') {
        if (part.fieldnameTruncated || part.valueTruncated) throw new FilesErrors.TooManyFields()
        continue
      }
      if (stored.length >= context.limits.maxFiles) throw new FilesErrors.TooManyFiles()
      const file = await storeOne(part, context, allowed, (bytes) => {
        totalBytes += bytes
        if (context.remainingBytes !== null && totalBytes > context.remainingBytes) {
          throw new FilesErrors.QuotaExceeded()
        }
      })
      stored.push(file)
    }
    if (stored.length === 0) throw new FilesErrors.NoFile()
    return stored
  } catch (error) {
    await removeAll(context.storage, stored)
    throw error
  }
}

export async function removeAll(storage: StorageDriver, files: readonly { storageKey: string }[]) {
  await Promise.allSettled(files.map((file) => storage.delete(file.storageKey)))
}

async function storeOne(
  part: Extract<UploadPart, { type: 'file' }>,
  context: UploadContext,
  allowed: ReadonlySet<string>,
  count: (bytes: number) => void,
): Promise<NewFile> {
  const name = sanitiseFileName(part.filename)
  const claims = claimedTypes(part.mimetype, part.filename ?? '')
  // The head: the first bytes, read before anything is stored, then put back in the stream.
  const { head, source } = await readHead(part.file, SNIFF_BYTES)
  const sniffed = await sniff(head, claims, allowed, context.limits.svg)
  if (sniffed.kind === 'refused') {
    throw new FilesErrors.UnsupportedType({
      detail: `"${name}" looks like ${sniffed.type}: ${sniffed.reason}.`,
      extensions: { detectedType: sniffed.type },
    })
  }
  if (!allowed.has(sniffed.type)) {
    throw new FilesErrors.UnsupportedType({
      detail: `"${name}" is ${sniffed.type}, which this route does not accept.`,
      extensions: { detectedType: sniffed.type },
    })
  }
  if (!claimsMatch(claims, sniffed.type)) {
    throw new FilesErrors.UnsupportedType({
      detail: `"${name}" claims to be ${claims.join(' and ')} but its content is ${sniffed.type}.`,
      extensions: { detectedType: sniffed.type },
    })
  }

  if (sniffed.kind === 'svg') return storeSvg(part, source, context, name, count)

  const id = randomUUID()
  const storageKey = `${context.tenantId}/${id}`
  const hash = createHash('sha256')
  const validator: TextValidator | null =
    sniffed.kind === 'text' ? textValidator(sniffed.type) : null
  let size = 0
  const take = (chunk: Buffer) => {
    size += chunk.length
    if (size > context.limits.maxFileBytes) throw new FilesErrors.FileTooLarge()
    count(chunk.length)
    hash.update(chunk)
    const problem = validator?.write(chunk)
    if (problem) {
      throw new FilesErrors.UnsupportedType({
        detail: `"${name}" is not valid ${sniffed.type}: ${problem}.`,
      })
    }
    return chunk
  }
  // Counted, hashed and checked on the way to storage; the first error stops the write.
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        done(null, take(chunk))
      } catch (error) {
        done(error as Error)
      }
    },
    flush(done) {
      // The parser stops a file at the route's limit and marks it truncated: never stored.
      if (part.file.truncated === true) return done(new FilesErrors.FileTooLarge())
      const problem = validator?.end()
      if (problem) {
        return done(
          new FilesErrors.UnsupportedType({
            detail: `"${name}" is not valid ${sniffed.type}: ${problem}.`,
          }),
        )
      }
      done()
    },
  })
  // A client that goes away makes the part's stream fail: so does the write.
  source.once('error', (error) => checked.destroy(error))
  // The check can refuse before the driver listens (a driver may await before it reads): an
  // 'error' with no listener would be an uncaught exception that ends the process. The refusal
  // still reaches the driver, which reads a destroyed stream, and is thrown below regardless.
  let refusal: Error | undefined
  checked.on('error', (error) => {
    refusal ??= error
  })
  source.pipe(checked)
  try {
    await context.storage.put(storageKey, checked, { contentType: sniffed.type })
    if (refusal) throw refusal
  } catch (error) {
    // Our own refusals and the parser's errors pass through the stream; anything else is the
    // store failing (its partial object is the driver's to remove).
    if (isAcmeError(error) || isParserError(error)) throw error
    throw new FilesErrors.StorageUnavailable({ cause: error })
  }
  if (ZIP_ARCHIVE_TYPES.has(sniffed.type)) {
    // An archive's directory is at its end: read back from storage once whole, before anything
    // records it. Refused (or unreadable storage): the object goes, as for any other refusal.
    try {
      await inspectZip(
        rangeReaderOf(context.storage, storageKey),
        size,
        context.limits.archive,
        name,
      )
    } catch (error) {
      await context.storage.delete(storageKey).catch(() => undefined)
      if (isAcmeError(error)) throw error
      throw new FilesErrors.StorageUnavailable({ cause: error })
    }
  }
  return {
    id,
    ownerId: context.ownerId,
    storageKey,
    name,
    sizeBytes: size,
    contentType: sniffed.type,
    sha256: hash.digest('hex'),
    status: context.status,
  }
}

/**
 * An SVG, read whole (it is parsed to be sanitised; at most `SVG_MAX_BYTES`), stored as the
 * sanitiser leaves it: the size and hash recorded are those of the stored bytes.
 */
async function storeSvg(
  part: Extract<UploadPart, { type: 'file' }>,
  source: Readable,
  context: UploadContext,
  name: string,
  count: (bytes: number) => void,
): Promise<NewFile> {
  const limit = Math.min(context.limits.maxFileBytes, SVG_MAX_BYTES)
  const original = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // A refusal here unpipes the part (as the streamed path does); the route discards the rest.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        size += chunk.length
        if (size > limit) return done(new FilesErrors.FileTooLarge())
        try {
          count(chunk.length)
        } catch (error) {
          return done(error as Error)
        }
        chunks.push(chunk)
        done()
      },
    })
    sink.once('finish', () => resolve(Buffer.concat(chunks)))
    sink.once('error', reject)
    source.once('error', reject)
    source.pipe(sink)
  })
  if (part.file.truncated === true) throw new FilesErrors.FileTooLarge()
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(original)
  } catch {
    throw new FilesErrors.UnsupportedType({
      detail: `"${name}" is not valid image/svg+xml: not UTF-8.`,
      extensions: { detectedType: 'image/svg+xml' },
    })
  }
  const sanitised = (await svgSanitiser())(text)
  if (sanitised === null) {
    throw new FilesErrors.UnsupportedType({
      detail: `"${name}" is not an SVG document once sanitised.`,
      extensions: { detectedType: 'image/svg+xml' },
    })
  }
  const bytes = Buffer.from(sanitised, 'utf8')
  const id = randomUUID()
  const storageKey = `${context.tenantId}/${id}`
  try {
    await context.storage.put(storageKey, Readable.from([bytes]), { contentType: 'image/svg+xml' })
  } catch (error) {
    throw new FilesErrors.StorageUnavailable({ cause: error })
  }
  return {
    id,
    ownerId: context.ownerId,
    storageKey,
    name,
    sizeBytes: bytes.length,
    contentType: 'image/svg+xml',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    status: context.status,
  }
}

/** An error of the multipart parser or of the client's connection, not of the store. */
function isParserError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (code.startsWith('FST_') || code === 'ECONNRESET')) return true
  const message = error instanceof Error ? error.message : ''
  return /multipart|terminated early|unexpected end|aborted/i.test(message)
}

/**
 * Reads at least `bytes` from the start of `stream` (fewer when it is shorter), then puts them
 * back, so the whole content still flows from the answered `source`.
 */
async function readHead(
  stream: Readable,
  bytes: number,
): Promise<{ head: Buffer; source: Readable }> {
  const chunks: Buffer[] = []
  let size = 0
  let ended = false
  while (size < bytes) {
    const chunk = stream.read() as Buffer | null
    if (chunk !== null) {
      chunks.push(chunk)
      size += chunk.length
      continue
    }
    if (stream.readableEnded) {
      ended = true
      break
    }
    ended = await new Promise<boolean>((resolve, reject) => {
      const settle = (value: boolean | Error) => {
        stream.off('readable', onReadable)
        stream.off('end', onEnd)
        stream.off('error', settle)
        if (value instanceof Error) reject(value)
        else resolve(value)
      }
      const onReadable = () => settle(false)
      const onEnd = () => settle(true)
      stream.once('readable', onReadable)
      stream.once('end', onEnd)
      stream.once('error', settle)
    })
    if (ended) break
  }
  const head = Buffer.concat(chunks)
  if (ended || stream.readableEnded) return { head, source: Readable.from([head]) }
  if (head.length > 0) stream.unshift(head)
  return { head, source: stream }
}
