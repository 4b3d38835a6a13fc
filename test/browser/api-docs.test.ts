import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { launchChromium } from '../support/chromium.js'
import { startContractServer } from '../support/contract-server.js'
import type { SpawnedServer } from '../support/spawned-server.js'

/** Where the pictures of the rendered page go, for a person to look at: the first screen, and the whole page. */
const screenshotDir = join(projectRoot, '.cache', 'screenshots')
const screenshotFiles = { top: join(screenshotDir, 'api-docs.png'), full: join(screenshotDir, 'api-docs-full.png') }

const openApi = JSON.parse(readFileSync(join(projectRoot, 'openapi.json'), 'utf8')) as { info: { title: string }; paths: Record<string, Record<string, unknown>> }
const documentedOperations = Object.entries(openApi.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))

describe('/docs in a real browser, with no network but the service', () => {
  let server: SpawnedServer
  let browser: Browser

  /**
   * A page on which anything but the service fails, as on an admin network with no internet (a
   * page that still fetched Swagger UI from a CDN would render nothing), with what it tried.
   */
  async function closedNetworkPage(): Promise<{ page: Page; blocked: string[]; consoleErrors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const blocked: string[] = []
    const consoleErrors: string[] = []
    const origin = new URL(server.url).origin
    await page.route('**/*', async (route) => {
      const url = route.request().url()
      if (new URL(url).origin === origin) return route.continue()
      blocked.push(url)
      return route.abort('internetdisconnected')
    })
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    page.on('pageerror', (error) => consoleErrors.push(error.message))
    return { page, blocked, consoleErrors }
  }

  beforeAll(async () => {
    server = await startContractServer()
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('when a page asks for a CDN, then the request fails (the network really is closed)', async () => {
    // Arrange
    const { page, blocked } = await closedNetworkPage()
    await page.goto(`${server.url}/health`)

    // Act
    const outcome = await page.evaluate(() =>
      fetch('https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css').then(
        (response) => `answered ${response.status}`,
        (error: unknown) => `failed: ${String(error)}`,
      ),
    )

    // Assert
    expect(outcome).toMatch(/^failed/)
    expect(blocked).toEqual(['https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css'])
    await page.close()
  })

  it('when /docs is opened, then Swagger UI renders every documented operation from the service alone', async () => {
    // Arrange
    const { page, blocked, consoleErrors } = await closedNetworkPage()

    // Act
    const response = await page.goto(`${server.url}/docs`)
    const deletePath = page.locator('.opblock-summary-path[data-path="/api/user/v1/delete"]')
    await deletePath.first().waitFor({ state: 'visible', timeout: 30_000 })
    mkdirSync(screenshotDir, { recursive: true })
    await page.screenshot({ path: screenshotFiles.top })
    // Open the delete operation, as a reader would, so the picture shows its parameters and answers.
    await deletePath.first().click()
    await page.locator('.opblock.is-open .responses-table').first().waitFor({ state: 'visible' })
    await page.screenshot({ path: screenshotFiles.full, fullPage: true })
    console.info(`screenshots of /docs: ${screenshotFiles.top}, ${screenshotFiles.full}`)

    // Assert
    expect(response?.status()).toBe(200)
    expect(await page.locator('.info .title').textContent()).toContain(openApi.info.title)
    const rendered = await page
      .locator('.opblock-summary')
      .evaluateAll((blocks) =>
        blocks.map((block) => `${block.querySelector('.opblock-summary-method')?.textContent ?? ''} ${block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''}`),
      )
    expect(rendered.sort()).toEqual([...documentedOperations].sort())
    expect(await page.locator('.opblock.is-open .responses-table').first().textContent()).toContain('UOS_USRDLT0008')
    // Swagger UI's own box for a document it could not load or does not fully support.
    expect(await page.locator('.errors-wrapper').allTextContents()).toEqual([])
    expect(blocked, 'the page tried to load something from outside the service').toEqual([])
    expect(consoleErrors, 'errors in the browser console (a Content-Security-Policy refusal shows here)').toEqual([])
    await page.close()
  })
})
