import { chainHash, contentHash, GENESIS_HASH } from '../canonical.js'
import { chainKeyOf, type SqlClient } from '../sql.js'
import type { AuditEntry, VerifyReport } from '../types.js'
import { type CheckpointSigner, latestCheckpoint } from './checkpoints.js'
import { countPending, readPage } from './entries.js'

const PAGE = 1_000

export interface VerifyRange {
  fromSeq?: number | undefined
  toSeq?: number | undefined
  /** Entries checked in this call at most; the report's `nextSeq` continues. */
  limit?: number | undefined
}

/** Recomputes what an entry's hash must be after `prevHash`. */
export function expectedHash(entry: AuditEntry, prevHash: string): string {
  return chainHash(
    prevHash,
    entry.seq ?? 0,
    contentHash({
      tenantId: entry.tenantId,
      action: entry.action,
      actionVersion: entry.actionVersion,
      occurredAt: entry.occurredAt,
      actor: entry.actor,
      targets: entry.targets,
      before: entry.before,
      after: entry.after,
      changes: entry.changes,
      metadata: entry.metadata,
      ip: entry.ip,
      userAgent: entry.userAgent,
      requestId: entry.requestId,
    }),
  )
}

/**
 * Walks a chain in seq order from its start (the last checkpoint, or the genesis) or from
 * `fromSeq` (anchored on the stored hash of the entry before it), recomputing every hash, and
 * stops at the first problem: an entry whose content or hash changed (`altered`), a seq that is
 * skipped (`missing`: an entry was deleted), a `prevHash` that is not its predecessor's hash
 * (`broken_link`), a checkpoint whose signature fails (`checkpoint_invalid`), or a chain that
 * ends before its head says it does (`truncated`). Only linked entries are walked; `pending`
 * counts the others. `db` must be in the chain's tenant.
 */
export async function verifyChain(
  db: SqlClient,
  tenantId: string | null,
  signer: CheckpointSigner | null,
  range: VerifyRange = {},
): Promise<VerifyReport> {
  const limit = range.limit ?? 100_000
  const checkpoint = await latestCheckpoint(db, tenantId)
  const heads = await db.$queryRawUnsafe<Array<{ seq: number; hash: string }>>(
    'SELECT "seq", "hash" FROM "audit_chain_heads" WHERE "chain_key" = $1',
    chainKeyOf(tenantId),
  )
  // A head at 0 was created by a linker that found nothing to link yet.
  const head =
    heads[0] && Number(heads[0].seq) > 0 ? { seq: Number(heads[0].seq), hash: heads[0].hash } : null
  const report: VerifyReport = {
    valid: true,
    checked: 0,
    fromSeq: null,
    toSeq: null,
    nextSeq: null,
    head,
    pending: await countPending(db, tenantId),
    checkpoint: checkpoint && {
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      prunedAt: checkpoint.prunedAt,
      keyId: checkpoint.keyId,
    },
    problem: null,
  }
  const fail = (problem: NonNullable<VerifyReport['problem']>): VerifyReport => ({
    ...report,
    valid: false,
    problem,
  })

  if (checkpoint && signer && !signer.verify(checkpoint)) {
    return fail({
      kind: 'checkpoint_invalid',
      seq: checkpoint.seq,
      entryId: null,
      message: `the checkpoint "pruned up to ${checkpoint.seq}" does not carry a valid signature of a known key (it names key ${checkpoint.keyId})`,
    })
  }
  const start = checkpoint ? checkpoint.seq + 1 : 1
  let expectedSeq = Math.max(range.fromSeq ?? start, start)
  let prevHash = checkpoint && expectedSeq === start ? checkpoint.hash : GENESIS_HASH
  if (expectedSeq > start) {
    // A range in the middle trusts the stored hash of the entry before it.
    const before = await readPage(db, tenantId, {}, { kind: 'chain', afterSeq: expectedSeq - 2 }, 1)
    const anchor = before[0]
    if (!anchor || anchor.seq !== expectedSeq - 1) {
      return fail({
        kind: 'missing',
        seq: expectedSeq - 1,
        entryId: null,
        message: `entry ${expectedSeq - 1}, which the range starts after, is missing`,
      })
    }
    prevHash = anchor.hash ?? GENESIS_HASH
  }
  report.fromSeq = expectedSeq
  const last = range.toSeq ?? Number.POSITIVE_INFINITY

  for (;;) {
    if (report.checked >= limit) {
      report.nextSeq = expectedSeq
      return report
    }
    const page = await readPage(
      db,
      tenantId,
      {},
      { kind: 'chain', afterSeq: expectedSeq - 1 },
      Math.min(PAGE, limit - report.checked),
    )
    for (const entry of page) {
      // Read in chain order: every entry of the page is linked.
      const seq = entry.seq ?? 0
      const hash = entry.hash ?? ''
      if (seq > last) return done()
      if (seq !== expectedSeq) {
        return fail({
          kind: 'missing',
          seq: expectedSeq,
          entryId: null,
          message:
            seq === expectedSeq + 1
              ? `entry ${expectedSeq} is missing (deleted): ${expectedSeq - 1} is followed by ${seq}`
              : `entries ${expectedSeq} to ${seq - 1} are missing (deleted)`,
        })
      }
      if (entry.prevHash !== prevHash) {
        return fail({
          kind: 'broken_link',
          seq: seq,
          entryId: entry.id,
          message: `entry ${seq} does not link to the hash of entry ${seq - 1}`,
        })
      }
      if (expectedHash(entry, prevHash) !== hash) {
        return fail({
          kind: 'altered',
          seq: seq,
          entryId: entry.id,
          message: `entry ${seq} (${entry.id}) was changed after it was recorded: its content does not match its hash`,
        })
      }
      report.checked += 1
      report.toSeq = seq
      prevHash = hash
      expectedSeq += 1
    }
    if (page.length === 0) return done()
  }

  function done(): VerifyReport {
    // Only a walk to the end can tell that the newest entries were removed.
    if (range.toSeq === undefined && head && head.seq >= expectedSeq) {
      return fail({
        kind: 'truncated',
        seq: expectedSeq,
        entryId: null,
        message: `entries ${expectedSeq} to ${head.seq} are missing: the chain's head is at ${head.seq}`,
      })
    }
    return report
  }
}
