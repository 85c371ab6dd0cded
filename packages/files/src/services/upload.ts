import { createHash, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { isAcmeError } from '@acme/core'
import { FilesErrors } from '../errors.js'
import { sanitiseFileName } from '../names.js'
import type { UploadLimits } from '../options.js'
import { claimedTypes, claimsMatch, SNIFF_BYTES, sniff } from '../sniff/detect.js'
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
  const chunks = part.file[Symbol.asyncIterator]() as AsyncIterator<Buffer>

  // The head: the first bytes, read before anything is stored.
  const head: Buffer[] = []
  let headBytes = 0
  let ended = false
  while (headBytes < SNIFF_BYTES) {
    const next = await chunks.next()
    if (next.done) {
      ended = true
      break
    }
    head.push(next.value)
    headBytes += next.value.length
  }
  const sniffed = await sniff(Buffer.concat(head), claims, allowed)
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
  const truncated = () => part.file.truncated === true
  async function* body(): AsyncGenerator<Buffer> {
    for (const chunk of head) yield take(chunk)
    if (!ended) {
      for (;;) {
        const next = await chunks.next()
        if (next.done) break
        yield take(next.value)
      }
    }
    // The parser stops a file at the route's limit and marks it truncated: never stored.
    if (truncated()) throw new FilesErrors.FileTooLarge()
    const problem = validator?.end()
    if (problem) {
      throw new FilesErrors.UnsupportedType({
        detail: `"${name}" is not valid ${sniffed.type}: ${problem}.`,
      })
    }
  }
  const source = Readable.from(body(), { objectMode: false })
  try {
    await context.storage.put(storageKey, source, { contentType: sniffed.type })
  } catch (error) {
    // Our own refusals and the parser's errors pass through the stream; anything else is the
    // store failing (its partial object is the driver's to remove).
    if (isAcmeError(error) || isParserError(error)) throw error
    throw new FilesErrors.StorageUnavailable({ cause: error })
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

/** An error of the multipart parser or of the client's connection, not of the store. */
function isParserError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (code.startsWith('FST_') || code === 'ECONNRESET')) return true
  const message = error instanceof Error ? error.message : ''
  return /multipart|terminated early|unexpected end|aborted/i.test(message)
}
