import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { NotFoundError } from '../../errors.js'
import { deployPackage, listPackages, listRoutes, rollbackPackage, routeHistory, routePackage, type DeployedPackage } from '../operations.js'
import { action } from './context.js'
import { fields, table, when } from './format.js'

const change = (o: Record<string, unknown>): { by: string; reason?: string } => ({ by: o.by as string, ...(o.reason === undefined ? {} : { reason: o.reason as string }) })

const routed = (verb: string, p: DeployedPackage): string => fields([[verb, p.workflowType], ['version', p.contentHash], ['bytes', p.bytes], ['deployed', when(p.deployedAt)]])

/** `holdfast packages …`: ls, routes, history, deploy, route, rollback. */
export function packagesCommands(program: Command): void {
  const packages = program.command('packages').description('deployed packages (metadata only), routes, route history, registry changes')
  packages
    .command('ls')
    .description('every package: type, content hash, deploy time (never the archives)')
    .action(
      action(async (ctx) => {
        const list = await listPackages(await ctx.store())
        return {
          json: list,
          text: () =>
            table(list, [
              { heading: 'TYPE', cell: (p) => p.workflowType },
              { heading: 'CONTENT HASH', cell: (p) => p.contentHash },
              { heading: 'DEPLOYED', cell: (p) => when(p.deployedAt) },
            ]),
        }
      }),
    )

  packages
    .command('routes')
    .description('which version each workflow type runs')
    .action(
      action(async (ctx) => {
        const routes = await listRoutes(await ctx.store())
        return {
          json: routes,
          text: () =>
            table(routes, [
              { heading: 'TYPE', cell: (r) => r.workflowType },
              { heading: 'CONTENT HASH', cell: (r) => r.contentHash },
              { heading: 'SINCE', cell: (r) => when(r.updatedAt) },
            ]),
        }
      }),
    )

  packages
    .command('history <type>')
    .description("a type's deploys, route changes and rollbacks, oldest first")
    .action(
      action(async (ctx, [type]) => {
        const history = await routeHistory(await ctx.store(), type!)
        return {
          json: history,
          text: () =>
            table(history, [
              { heading: 'AT', cell: (h) => when(h.at) },
              { heading: 'ACTION', cell: (h) => h.action },
              { heading: 'TO', cell: (h) => h.contentHash },
              { heading: 'FROM', cell: (h) => h.previousHash },
              { heading: 'BY', cell: (h) => h.by },
              { heading: 'REASON', cell: (h) => h.reason },
            ]),
        }
      }),
    )

  packages
    .command('deploy <type> <file>')
    .description('store FILE as a version of TYPE and route TYPE (and --also types) to it')
    .requiredOption('--by <who>', 'who deploys (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .option('--also <types>', 'further types the archive serves, comma-separated')
    .action(
      action(async (ctx, [type, file], o) => {
        let archive: Uint8Array
        try {
          archive = await readFile(file!)
        } catch (err) {
          throw new NotFoundError(`cannot read ${JSON.stringify(file)}: ${(err as Error).message}`)
        }
        const also = o.also === undefined ? undefined : (o.also as string).split(',').filter((t) => t !== '')
        const p = await deployPackage(await ctx.store(), type!, archive, { ...change(o), ...(also ? { also } : {}) })
        return { json: p, text: () => routed('deployed', p) }
      }),
    )

  packages
    .command('route <type> <hash>')
    .description('route TYPE to a version deployed before (roll forward or back)')
    .requiredOption('--by <who>', 'who routes (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .action(
      action(async (ctx, [type, hash], o) => {
        const p = await routePackage(await ctx.store(), type!, hash!, change(o))
        return { json: p, text: () => routed('routed', p) }
      }),
    )

  packages
    .command('rollback <type>')
    .description('route TYPE back to the version routed before the current one')
    .requiredOption('--by <who>', 'who rolls back (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .action(
      action(async (ctx, [type], o) => {
        const p = await rollbackPackage(await ctx.store(), type!, change(o))
        return { json: p, text: () => routed('rolled back', p) }
      }),
    )
}
