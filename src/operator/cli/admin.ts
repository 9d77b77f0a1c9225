import type { Command } from 'commander'
import { doctor, migrateReport } from '../operations.js'
import { createServer } from '../server/server.js'
import { action, integer } from './context.js'
import { fields, paint, Progress, table } from './format.js'

/** `holdfast migrate`, `holdfast doctor`, `holdfast serve`. */
export function adminCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database or apply pending migrations')
    .action(
      action(async (ctx) => {
        const applied: string[] = []
        const progress = new Progress('migrating')
        const store = await ctx.store(
          {
            onMigrate: (s) => {
              applied.push(s.name)
              progress.update(s.version, s.of)
            },
          },
          true,
        )
        progress.done()
        const r = await migrateReport(store, applied)
        return { json: r, text: () => (r.applied.length === 0 ? `schema version ${r.to}: up to date` : `schema version ${r.from} -> ${r.to}: ${r.applied.join(', ')}`) }
      }),
    )

  program
    .command('doctor')
    .description('check the database: schema version, integrity, WAL size, stale subscribers, held poison')
    .option('--stale-after <ms>', 'a subscriber behind and silent this long is stale (default 300000)', integer)
    .action(
      action(async (ctx, _args, o) => {
        const r = await doctor(await ctx.store(), o.staleAfter === undefined ? {} : { staleAfterMs: o.staleAfter as number })
        const mark = { ok: paint('green', 'ok'), warning: paint('yellow', 'warn'), error: paint('red', 'FAIL') }
        return {
          json: r,
          text: () =>
            `${fields([
              ['backend', r.diagnostics.backend],
              ['location', r.diagnostics.location],
              ['size', r.diagnostics.databaseBytes === null ? null : `${r.diagnostics.databaseBytes} bytes`],
            ])}\n\n${table(r.findings, [
              { heading: 'CHECK', cell: (f) => f.check },
              { heading: 'STATUS', cell: (f) => (f.level === 'ok' ? 'ok' : f.level === 'warning' ? 'warn' : 'FAIL') },
              { heading: 'DETAIL', cell: (f) => f.message },
            ])}\n${r.ok ? mark.ok : mark.error}`,
        }
      }),
    )

  program
    .command('serve')
    .description('the dashboard at /, the HTTP API (routes under /api/v1), /metrics, /healthz and /readyz')
    .option('--port <port>', 'port (default 4600)', integer, 4600)
    .option('--host <host>', 'host (default 127.0.0.1; another needs a token)', '127.0.0.1')
    .option('--token <token>', 'bearer token for mutations, and reads unless --public-read (default $HOLDFAST_TOKEN)')
    .option('--public-read', 'reads need no token')
    .option('--read-only', 'refuse every mutation')
    .option('--origin <origin...>', 'further origins allowed to POST (a dashboard served elsewhere)')
    .action(
      action(async (ctx, _args, o) => {
        const store = await ctx.store(undefined, true)
        const token = (o.token as string | undefined) ?? process.env.HOLDFAST_TOKEN
        const server = createServer(store, {
          ...(token ? { token } : {}),
          publicRead: o.publicRead === true,
          readOnly: o.readOnly === true,
          allowedOrigins: (o.origin as string[] | undefined) ?? [],
        })
        const running = await server.listen({ port: o.port as number, host: o.host as string })
        const notes = [token ? 'bearer token required for mutations' + (o.publicRead ? '' : ' and reads') : 'no token: listening on loopback only, anyone on this machine may read and change', o.readOnly ? 'read-only' : '']
        process.stderr.write(`holdfast serving ${running.url} (${notes.filter(Boolean).join('; ')})\n`)
        if (ctx.options.json) process.stdout.write(`${JSON.stringify({ url: running.url, port: running.port })}\n`)
        await new Promise<void>((resolve) => {
          const stop = (): void => resolve()
          process.once('SIGINT', stop)
          process.once('SIGTERM', stop)
        })
        await running.close()
      }),
    )
}
