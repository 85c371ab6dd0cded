import { buffer } from 'node:stream/consumers'
import { deflateRawSync } from 'node:zlib'
import yazl from 'yazl'

export interface ZipEntry {
  name: string
  content: Buffer | string
  /** Deflate it (default: stored). */
  compress?: boolean
}

/** A zip written by a real zip writer (yazl). */
export async function zipOf(entries: ZipEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile()
  for (const entry of entries) {
    const content = Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content)
    zip.addBuffer(content, entry.name, { compress: entry.compress ?? false })
  }
  zip.end()
  return buffer(zip.outputStream)
}

/**
 * The archive with every occurrence of an entry's name (its local header and its directory
 * record) replaced by another of the same length: how a hostile archive is made, since a
 * well-behaved writer refuses to write `..`, absolute paths or NUL.
 */
export function renamed(zip: Buffer, from: string, to: string): Buffer {
  const a = Buffer.from(from, 'latin1')
  const b = Buffer.from(to, 'latin1')
  if (a.length !== b.length) throw new Error('same length only')
  const out = Buffer.from(zip)
  let at = out.indexOf(a)
  if (at < 0) throw new Error(`${from} is not in the archive`)
  while (at >= 0) {
    b.copy(out, at)
    at = out.indexOf(a, at + b.length)
  }
  return out
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
const crc32 = (bytes: Buffer) => {
  let c = 0xffffffff
  for (const byte of bytes) c = (crcTable[(c ^ byte) & 0xff] as number) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/**
 * One deflated entry, built byte by byte, whose header name is `name` and whose Info-ZIP
 * Unicode path extra field (0x7075, which many extractors prefer) says `unicodeName`.
 */
export function zipWithUnicodePath(name: string, unicodeName: string, content: string): Buffer {
  const nameBytes = Buffer.from(name)
  const data = Buffer.from(content)
  const packed = deflateRawSync(data)
  const unicode = Buffer.from(unicodeName)
  const field = Buffer.alloc(4 + 5 + unicode.length)
  field.writeUInt16LE(0x7075, 0)
  field.writeUInt16LE(5 + unicode.length, 2)
  field.writeUInt8(1, 4)
  field.writeUInt32LE(crc32(nameBytes), 5)
  unicode.copy(field, 9)
  const local = Buffer.alloc(30)
  local.writeUInt32LE(0x04034b50, 0)
  local.writeUInt16LE(20, 4)
  local.writeUInt16LE(8, 8)
  local.writeUInt32LE(crc32(data), 14)
  local.writeUInt32LE(packed.length, 18)
  local.writeUInt32LE(data.length, 22)
  local.writeUInt16LE(nameBytes.length, 26)
  local.writeUInt16LE(field.length, 28)
  const localRecord = Buffer.concat([local, nameBytes, field, packed])
  const central = Buffer.alloc(46)
  central.writeUInt32LE(0x02014b50, 0)
  central.writeUInt16LE(20, 4)
  central.writeUInt16LE(20, 6)
  central.writeUInt16LE(8, 10)
  central.writeUInt32LE(crc32(data), 16)
  central.writeUInt32LE(packed.length, 20)
  central.writeUInt32LE(data.length, 24)
  central.writeUInt16LE(nameBytes.length, 28)
  central.writeUInt16LE(field.length, 30)
  central.writeUInt32LE(0, 42)
  const directory = Buffer.concat([central, nameBytes, field])
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(1, 8)
  end.writeUInt16LE(1, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(localRecord.length, 16)
  return Buffer.concat([localRecord, directory, end])
}
