import { describe, expect, it } from 'vitest'
import { parseTranscriptTable } from '../src/transcript.js'

describe('parseTranscriptTable', () => {
  it('reads who, the request and the status; further columns are for the reader', () => {
    const rows = parseTranscriptTable(
      [
        '| who | request | answer | what it shows |',
        '| :-- | --- | --: | --- |',
        '| Ann | `POST /auth/login` | 200 | a token |',
        '| Bob | GET /notes | 403 | |',
      ],
      10,
    )
    expect(rows).toEqual([
      { who: 'Ann', request: 'POST /auth/login', status: 200 },
      { who: 'Bob', request: 'GET /notes', status: 403 },
    ])
  })

  it('refuses a row whose request or status it cannot read, naming its line', () => {
    const table = ['| who | request | answer |', '| --- | --- | --- |', '| Ann | log in | 200 |']
    expect(() => parseTranscriptTable(table, 10)).toThrow('line 12: expected')
    expect(() => parseTranscriptTable(['| who | request | answer |'], 10)).toThrow(
      'line 10: a transcript table needs a header and a separator row',
    )
  })
})
