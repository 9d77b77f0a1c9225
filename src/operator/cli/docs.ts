import type { Command } from 'commander'
import { compactDocument, listDocuments, showDocument } from '../operations.js'
import { action, integer } from './context.js'
import { fields, table } from './format.js'

/** `holdfast docs …`: ls, show, compact. */
export function docsCommands(program: Command): void {
  const docs = program.command('docs').description('Automerge documents: sizes, peers, last change, compaction')
  docs
    .command('ls')
    .description('documents with their stored sizes and peers')
    .option('--after <id>', 'page after this id')
    .option('--limit <n>', 'at most this many (default 100)', integer)
    .action(
      action(async (ctx, _args, o) => {
        const page = await listDocuments(await ctx.store(), { ...(o.after === undefined ? {} : { after: o.after as string }), ...(o.limit === undefined ? {} : { limit: o.limit as number }) })
        return {
          json: page,
          text: () =>
            table(page.documents, [
              { heading: 'DOCUMENT', cell: (d) => d.documentId },
              { heading: 'CHANGES B', cell: (d) => d.sizes.changes, right: true },
              { heading: 'DOCUMENT B', cell: (d) => d.sizes.document, right: true },
              { heading: 'SYNC B', cell: (d) => d.sizes.syncStates, right: true },
              { heading: 'PEERS', cell: (d) => d.peers.length, right: true },
            ]),
        }
      }),
    )

  docs
    .command('show <id>')
    .description('sizes, peers, number of changes and the last change (loads the document)')
    .action(
      action(async (ctx, [id]) => {
        const d = await showDocument(await ctx.store(), id!)
        const last = d.lastChange
        return {
          json: d,
          text: () =>
            fields([
              ['document', d.documentId],
              ['changes', d.changes],
              ['bytes', `changes ${d.sizes.changes}, document ${d.sizes.document}, sync states ${d.sizes.syncStates}`],
              ['peers', d.peers.join(', ') || '-'],
              ['last change', last ? `${last.actor}@${last.seq} at ${last.time ? new Date(last.time * 1000).toISOString() : '-'}${last.message ? ` "${last.message}"` : ''}` : '-'],
            ]),
        }
      }),
    )

  docs
    .command('compact <id>')
    .description('save the whole document and remove the changes it holds, in one transaction')
    .action(
      action(async (ctx, [id]) => {
        const r = await compactDocument(await ctx.store(), id!)
        return { json: r, text: () => `compacted ${r.documentId}: changes ${r.before.changes} -> ${r.after.changes} bytes, document ${r.before.document} -> ${r.after.document} bytes` }
      }),
    )
}
