import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Hono } from 'hono'
import { errorBody } from './errors.js'

/**
 * Where the dashboard's files are: next to this module, `../dashboard/`: in the package, `dist/operator/dashboard/`
 * (built by `npm run build`); when running from source, `src/operator/dashboard/` (its `.ts`, transpiled on request).
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url))

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' }
const ASSET = /^[a-z][a-z0-9-]*\.(js|css)$/

/** What every dashboard response carries: only this origin's scripts, styles and API, no framing. */
const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
}

/** The file's text, or `null` when it does not exist. */
async function read(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/**
 * A built module, or, from source, the `.ts` next to it transpiled by TypeScript (a devDependency, there whenever
 * the sources are run; the package's `dist` has the built `.js`).
 */
async function script(dir: string, name: string): Promise<string | null> {
  const built = await read(join(dir, name))
  if (built !== null) return built
  const source = await read(join(dir, name.replace(/\.js$/, '.ts')))
  if (source === null) return null
  const ts = (await import('typescript')).default
  return ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 }, fileName: name.replace(/\.js$/, '.ts') }).outputText
}

/**
 * Mounts the dashboard on `app`: `GET /` is its page, `GET /assets/{file}` its scripts and styles from `dir`. The
 * files hold no data (the page reads the API, with the token), so they are served without auth.
 */
export function dashboardRoutes(app: Hono, dir: string = DASHBOARD_DIR): void {
  app.get('/', async (c) => {
    const page = await read(join(dir, 'index.html'))
    if (page === null) return c.json(errorBody('NOT_FOUND', `the dashboard is not built (no ${join(dir, 'index.html')}); run npm run build`), 404)
    return c.body(page, 200, { ...HEADERS, 'Content-Type': TYPES.html! })
  })
  app.get('/assets/:file', async (c) => {
    const file = c.req.param('file')
    const m = ASSET.exec(file)
    const text = m ? (m[1] === 'js' ? await script(dir, file) : await read(join(dir, file))) : null
    if (text === null) return c.json(errorBody('NOT_FOUND', `no dashboard asset ${JSON.stringify(file.slice(0, 100))}`), 404)
    return c.body(text, 200, { ...HEADERS, 'Content-Type': TYPES[m![1]!]! })
  })
}
