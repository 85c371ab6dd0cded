import type { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  assertStorageKey,
  type PresignedUpload,
  STORAGE_KEY,
  type StorageDriver,
  StorageObjectMissing,
  type StoredObjectInfo,
  type StoredObjectSummary,
} from './storage/driver.js'

export interface S3DriverOptions {
  /**
   * The app's S3 client. For S3-compatible stores (MinIO, Ceph, s3rver) give it `endpoint` and
   * `forcePathStyle: true`; stores that do not know S3's newer default checksums also want
   * `requestChecksumCalculation: 'WHEN_REQUIRED'` and `responseChecksumValidation: 'WHEN_REQUIRED'`.
   */
  client: S3Client
  bucket: string
  /** Prepended to every key (`tenants/`, say), to share a bucket. */
  keyPrefix?: string
  /**
   * Bytes held in memory per upload: an upload of unknown length goes up in parts of this size
   * (S3's minimum is 5 MiB); a smaller file in one request. Never the whole file.
   */
  partBytes?: number
}

const MIN_PART = 5 * 1024 * 1024

const isMissing = (error: unknown) => {
  const name = (error as { name?: string } | null)?.name
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
    ?.httpStatusCode
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404
}

/**
 * Files in an S3-compatible bucket, streamed both ways: uploads go up part by part as they
 * arrive (a multipart upload, aborted when the stream fails, so nothing is left under the key),
 * downloads are the object's body stream. Presigned PUTs give direct uploads.
 * Import it from `@acme/files/s3` (needs `@aws-sdk/client-s3` and
 * `@aws-sdk/s3-request-presigner`).
 */
export class S3Driver implements StorageDriver {
  readonly kind = 's3'
  readonly #client: S3Client
  readonly #bucket: string
  readonly #prefix: string
  readonly #partBytes: number

  constructor(options: S3DriverOptions) {
    this.#client = options.client
    this.#bucket = options.bucket
    this.#prefix = options.keyPrefix ?? ''
    this.#partBytes = Math.max(MIN_PART, options.partBytes ?? MIN_PART)
  }

  private objectKey(key: string): string {
    assertStorageKey(key)
    return `${this.#prefix}${key}`
  }

  async put(key: string, body: Readable, info: { contentType: string }): Promise<StoredObjectInfo> {
    const Key = this.objectKey(key)
    const parts = partsOf(body, this.#partBytes)
    const first = await parts.next()
    const firstPart = first.done ? Buffer.alloc(0) : first.value
    const second = first.done ? first : await parts.next()
    if (second.done) {
      // The whole object fits in one part: one request.
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key,
          Body: firstPart,
          ContentLength: firstPart.length,
          ContentType: info.contentType,
        }),
      )
      return { sizeBytes: firstPart.length }
    }
    const { UploadId } = await this.#client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.#bucket,
        Key,
        ContentType: info.contentType,
      }),
    )
    const done: Array<{ ETag: string; PartNumber: number }> = []
    let size = 0
    const send = async (part: Buffer) => {
      const PartNumber = done.length + 1
      const { ETag } = await this.#client.send(
        new UploadPartCommand({
          Bucket: this.#bucket,
          Key,
          UploadId,
          PartNumber,
          Body: part,
          ContentLength: part.length,
        }),
      )
      done.push({ ETag: ETag ?? '', PartNumber })
      size += part.length
    }
    try {
      await send(firstPart)
      await send(second.value)
      for (;;) {
        const next = await parts.next()
        if (next.done) break
        await send(next.value)
      }
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      )
      return { sizeBytes: size }
    } catch (error) {
      await this.#client
        .send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key, UploadId }))
        .catch(() => undefined)
      throw error
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const object = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(key) }),
      )
      return object.Body as Readable
    } catch (error) {
      if (isMissing(error)) throw new StorageObjectMissing(key)
      throw error
    }
  }

  async head(key: string): Promise<StoredObjectInfo | null> {
    try {
      const object = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(key) }),
      )
      return { sizeBytes: object.ContentLength ?? 0 }
    } catch (error) {
      if (isMissing(error)) return null
      throw error
    }
  }

  readHead(key: string, bytes: number): Promise<Buffer> {
    return this.readRange(key, 0, bytes)
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0)
    try {
      const object = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.objectKey(key),
          Range: `bytes=${start}-${end - 1}`,
        }),
      )
      const chunks: Buffer[] = []
      for await (const chunk of object.Body as Readable) chunks.push(chunk as Buffer)
      return Buffer.concat(chunks).subarray(0, end - start)
    } catch (error) {
      if (isMissing(error)) throw new StorageObjectMissing(key)
      throw error
    }
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(
      new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(key) }),
    )
  }

  async presignPut(
    key: string,
    options: { contentType: string; contentLength: number; expiresInSeconds: number },
  ): Promise<PresignedUpload> {
    const url = await getSignedUrl(
      this.#client,
      new PutObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(key) }),
      { expiresIn: options.expiresInSeconds },
    )
    return {
      method: 'PUT',
      url,
      headers: {},
      expiresAt: new Date(Date.now() + options.expiresInSeconds * 1000),
    }
  }

  /** The bucket's objects under `keyPrefix`, a listing page (up to 1,000) at a time. */
  async *list(): AsyncGenerator<StoredObjectSummary[]> {
    let ContinuationToken: string | undefined
    do {
      const listed = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix,
          ...(ContinuationToken ? { ContinuationToken } : {}),
        }),
      )
      const page: StoredObjectSummary[] = []
      for (const object of listed.Contents ?? []) {
        const key = object.Key?.slice(this.#prefix.length) ?? ''
        // Pending direct uploads are the bucket's lifecycle rule's; other keys are not ours.
        if (!STORAGE_KEY.test(key) || key.startsWith('pending/')) continue
        page.push({ key, lastModified: object.LastModified ?? new Date() })
      }
      if (page.length > 0) yield page
      ContinuationToken = listed.IsTruncated ? listed.NextContinuationToken : undefined
    } while (ContinuationToken)
  }

  async check(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }))
  }
}

/** The stream cut into parts of `size` bytes (the last one shorter): one part in memory. */
async function* partsOf(body: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const chunk of body) {
    let data = chunk as Buffer
    while (pendingBytes + data.length >= size) {
      const take = size - pendingBytes
      pending.push(data.subarray(0, take))
      yield Buffer.concat(pending)
      pending = []
      pendingBytes = 0
      data = data.subarray(take)
    }
    if (data.length > 0) {
      pending.push(data)
      pendingBytes += data.length
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending)
}
