// Opens every tutorial notebook in real JupyterLab, in Debian's Chromium driven headless by
// Playwright, the way a student would: first as saved (untrusted: JupyterLab sanitises the
// HTML), then after "Run All" with the Rust (autograd) kernel. In both states every graph
// picture and every tensor table must be on screen with a non-zero size, and graph pictures
// must carry their node labels. A step_backward output shows every step when untrusted; after
// Run All its controls are clicked through every step (the outlined node and the values must
// change) and three steps are photographed. Then Run All on a notebook whose second cell fails:
// the cells after it must stay unrun, as with ipykernel. Screenshots are kept in tests/browser/artifacts/ (or
// $AUTOGRAD_BROWSER_ARTIFACTS).
//
//   node tests/browser/lab_test.mjs        (test.sh sets up the venv, Chromium and npm first)

import { chromium } from 'playwright-core';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/autograd-kernel/target');
const kernel = path.join(target, 'release/autograd-kernel');
const jupyter = process.env.JUPYTER_BIN || path.join(root, '.venv-test/bin/jupyter');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.AUTOGRAD_BROWSER_ARTIFACTS || path.join(here, 'artifacts');
const only = process.argv.slice(2);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What the saved notebook promises: how many graph pictures and tensor tables it shows. */
function expectedOutputs(file) {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  let graphs = 0;
  let tensors = 0;
  let steppers = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs || []) {
      const data = out.data || {};
      if (data['image/svg+xml']) graphs += 1;
      const html = [].concat(data['text/html'] || []).join('');
      if (html.includes('autograd-tensor')) tensors += 1;
      if (html.includes('class="autograd-stepper"')) steppers += 1;
    }
  }
  return { graphs, tensors, steppers };
}

/** Measures every graph and tensor output on the page (scrolling each into view first). */
async function measure(page) {
  return page.evaluate(async () => {
    const result = { graphs: [], tensors: [] };
    const outputs = document.querySelectorAll('.jp-OutputArea-output');
    for (const out of outputs) {
      // graph pictures: an <img> of the SVG inside the HTML (what shows, trusted or not), or an
      // inline <svg> where JupyterLab picked the image/svg+xml output itself
      for (const img of out.querySelectorAll('img[src^="data:image/svg+xml"]')) {
        if (img.closest('.autograd-stepper')) continue; // checked step by step, below
        img.scrollIntoView({ block: 'center' });
        await img.decode().catch(() => {});
        const box = img.getBoundingClientRect();
        const svgText = decodeURIComponent(img.getAttribute('src').slice('data:image/svg+xml,'.length));
        const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
        const labels = [...doc.querySelectorAll('text')].map((t) => t.textContent);
        result.graphs.push({ width: box.width, height: box.height, loaded: img.complete && img.naturalWidth > 0, labels });
      }
      for (const svg of out.querySelectorAll('svg')) {
        svg.scrollIntoView({ block: 'center' });
        await new Promise((r) => requestAnimationFrame(r));
        const box = svg.getBoundingClientRect();
        const labels = [...svg.querySelectorAll('text')].map((t) => t.textContent);
        result.graphs.push({ width: box.width, height: box.height, loaded: true, labels });
      }
      for (const t of out.querySelectorAll('.autograd-tensor')) {
        t.scrollIntoView({ block: 'center' });
        await new Promise((r) => requestAnimationFrame(r));
        const box = t.getBoundingClientRect();
        result.tensors.push({ width: box.width, height: box.height, text: t.textContent.slice(0, 80) });
      }
    }
    return result;
  });
}

function check(name, state, seen, expected, failures) {
  const fail = (msg) => failures.push(`${name} (${state}): ${msg}`);
  if (seen.graphs.length < expected.graphs) fail(`${seen.graphs.length} graph pictures on screen, ${expected.graphs} expected`);
  if (seen.tensors.length < expected.tensors) fail(`${seen.tensors.length} tensor tables on screen, ${expected.tensors} expected`);
  seen.graphs.forEach((g, i) => {
    if (!(g.width > 20 && g.height > 20)) fail(`graph ${i} has size ${g.width}x${g.height}`);
    if (!g.loaded) fail(`graph ${i}: the browser could not draw the picture`);
    if (!g.labels.some((l) => /Backward|AccumulateGrad|leaf|too large/.test(l))) fail(`graph ${i} shows no node labels`);
  });
  seen.tensors.forEach((t, i) => {
    if (!(t.width > 20 && t.height > 10)) fail(`tensor ${i} has size ${t.width}x${t.height}`);
    if (!t.text.includes('shape')) fail(`tensor ${i} has no shape badge`);
  });
}

async function screenshots(page, prefix) {
  await page.screenshot({ path: path.join(artifacts, `${prefix}.png`) });
  const graphs = [];
  // steps a stepper keeps off screen (trusted output shows one at a time) cannot be photographed
  for (const g of await page.$$('.jp-OutputArea-output img[src^="data:image/svg+xml"], .jp-OutputArea-output svg')) {
    if (graphs.length < 4 && (await g.isVisible())) graphs.push(g);
  }
  for (const [i, g] of graphs.entries()) {
    await g.scrollIntoViewIfNeeded();
    await g.screenshot({ path: path.join(artifacts, `${prefix}-graph-${i + 1}.png`) });
  }
}

/** The node outlined in red in a step picture (the node being run), from the SVG text. */
function outlinedNode(svgText) {
  const at = svgText.indexOf('stroke="#d62728"');
  if (at < 0) return null;
  const m = /font-weight="bold" text-anchor="middle" fill="#111">([^<]*)<\/text>/.exec(svgText.slice(at));
  return m ? m[1] : null;
}

/** What every step_backward output on the page shows: its steps, which are on screen, whether
 * it has controls, and for the step on screen its heading, picture and outlined node. */
async function stepperStates(page) {
  return page.evaluate(() => [...document.querySelectorAll('.jp-OutputArea-output .autograd-stepper')].map((root) => {
    const steps = [...root.querySelectorAll('.autograd-step')];
    return {
      steps: steps.length,
      visible: steps.filter((s) => s.getBoundingClientRect().height > 0).map((s) => Number(s.dataset.step)),
      pictures: steps.map((s) => {
        const img = s.querySelector('img');
        return img ? { loaded: img.complete && img.naturalWidth > 0, svg: decodeURIComponent(img.getAttribute('src').slice('data:image/svg+xml,'.length)) } : null;
      }),
      headings: steps.map((s) => s.firstElementChild.textContent),
      controls: !!root.querySelector('.autograd-stepper-controls'),
      position: (root.querySelector('.autograd-stepper-position') || { textContent: '' }).textContent,
    };
  }));
}

/** Untrusted (as saved): no controls, every step and its picture on screen. */
async function checkSteppersStatic(page, stem, expected, failures) {
  const states = await stepperStates(page);
  const fail = (msg) => failures.push(`${stem} (untrusted, as saved): step_backward: ${msg}`);
  if (states.length < expected.steppers) fail(`${states.length} outputs on screen, ${expected.steppers} expected`);
  states.forEach((st, i) => {
    if (st.controls) fail(`output ${i} has controls, but the script must not run untrusted`);
    if (st.steps < 2 || st.visible.length !== st.steps) fail(`output ${i} shows ${st.visible.length} of its ${st.steps} steps`);
    st.pictures.forEach((p, k) => { if (p && !p.loaded) fail(`output ${i} step ${k + 1}: picture not drawn`); });
  });
}

/** Trusted (after Run All): one step at a time; click through every step with the buttons,
 * checking that the step on screen, its outlined node and its values change; back with the
 * keyboard; screenshots of the first, a middle and the last step of the first output. */
async function checkSteppersLive(page, stem, expected, failures) {
  const fail = (msg) => failures.push(`${stem} (after Run All): step_backward: ${msg}`);
  const roots = page.locator('.jp-OutputArea-output .autograd-stepper');
  const count = await roots.count();
  if (count < expected.steppers) fail(`${count} outputs on screen, ${expected.steppers} expected`);
  for (let i = 0; i < count; i++) {
    const root = roots.nth(i);
    await root.scrollIntoViewIfNeeded();
    let st = (await stepperStates(page))[i];
    if (!st.controls) { fail(`output ${i} has no controls`); continue; }
    const n = st.steps;
    const shot = async (k) => {
      if (i === 0 && [1, Math.ceil(n / 2), n].includes(k)) await root.screenshot({ path: path.join(artifacts, `${stem}-step-backward-${k}.png`) });
    };
    const seen = [];
    for (let k = 1; k <= n; k++) {
      if (k > 1) await root.locator('button[data-action="next"]').click();
      st = (await stepperStates(page))[i];
      if (st.visible.length !== 1 || st.visible[0] !== k) { fail(`output ${i}: after ${k - 1} clicks on next, steps ${st.visible} on screen (expected ${k})`); break; }
      if (st.position !== `step ${k} of ${n}`) fail(`output ${i}: the position reads "${st.position}" at step ${k}`);
      const picture = st.pictures[k - 1];
      const node = picture ? outlinedNode(picture.svg) : null;
      const heading = st.headings[k - 1];
      if (picture && (!node || !heading.includes(node.replace('AccumulateGrad', '')))) fail(`output ${i} step ${k}: outlined node ${node} vs heading "${heading}"`);
      seen.push({ heading, svg: picture ? picture.svg : '' });
      await shot(k);
    }
    for (let k = 1; k < seen.length; k++) {
      if (seen[k].heading === seen[k - 1].heading && seen[k].svg === seen[k - 1].svg) fail(`output ${i}: step ${k + 1} looks like step ${k}`);
    }
    // the keyboard: ← goes back one step, Home to the first
    await root.focus();
    await page.keyboard.press('ArrowLeft');
    st = (await stepperStates(page))[i];
    if (st.visible[0] !== n - 1) fail(`output ${i}: ← from the last step shows step ${st.visible}`);
    await page.keyboard.press('Home');
    st = (await stepperStates(page))[i];
    if (st.visible[0] !== 1) fail(`output ${i}: Home shows step ${st.visible}`);
    console.log(`${stem}: step_backward output ${i}: clicked through ${seen.length} of ${n} steps`);
  }
}

/** A notebook whose second cell fails (no `raises-exception` tag): Run All must stop there. */
const STOP_NOTEBOOK = 'zz-run-all-stops-at-an-error.ipynb';
function writeStopNotebook(dir) {
  const cell = (source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
  const nb = {
    cells: [
      cell('let before = 1;'),
      cell('let t = tensor!([1., 2.]);\nt.backward();'),
      cell('let after = 2;\nafter'),
      cell('before + 1'),
    ],
    metadata: { kernelspec: { name: 'rust-autograd', display_name: 'Rust (autograd)', language: 'rust' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  fs.writeFileSync(path.join(dir, STOP_NOTEBOOK), JSON.stringify(nb));
}

/** Run All on STOP_NOTEBOOK: the failing cell shows its error, the cells after it show no
 * output and no execution count (the kernel answered them `aborted`, as ipykernel does). */
async function checkRunAllStops(page, base, token, failures) {
  await page.goto(`${base}/lab/tree/${encodeURIComponent(STOP_NOTEBOOK)}?reset&token=${token}`);
  await page.waitForFunction(() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const ctx = w && w.sessionContext;
    return w && w.content && w.content.widgets.length > 0 && ctx && ctx.session && ctx.session.kernel && ctx.session.kernel.status === 'idle';
  }, null, { timeout: 180000 });
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  // done when no cell is waiting ([*]) and the kernel is idle again
  await page.waitForFunction(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map((p) => p.textContent);
    return prompts.length === 4 && !prompts.some((p) => p.includes('*')) && /\[ *1 *\]/.test(prompts[0]) && panel.sessionContext.session.kernel.status === 'idle';
  }, null, { timeout: 300000, polling: 500 });
  await page.waitForTimeout(1500);
  const cells = await page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return [...panel.node.querySelectorAll('.jp-CodeCell')].map((c) => ({
      prompt: c.querySelector('.jp-InputPrompt').textContent.trim(),
      outputs: c.querySelectorAll('.jp-OutputArea-output').length,
      text: (c.querySelector('.jp-OutputArea') || { textContent: '' }).textContent,
    }));
  });
  const fail = (msg) => failures.push(`Run All stops at an error: ${msg}`);
  if (!/\[ *2 *\]/.test(cells[1].prompt) || !cells[1].text.includes('RuntimeError')) fail(`the failing cell shows ${JSON.stringify(cells[1])}`);
  for (const i of [2, 3]) {
    if (!/\[ *\]/.test(cells[i].prompt) || cells[i].outputs !== 0) fail(`cell ${i + 1} after the error ran: ${JSON.stringify(cells[i])}`);
  }
  await page.screenshot({ path: path.join(artifacts, 'run-all-stops-at-an-error.png') });
  console.log(`Run All with a failing cell: prompts ${cells.map((c) => c.prompt).join(' ')}`);
  await page.evaluate(async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.sessionContext.shutdown();
    panel.context.model.dirty = false;
    panel.dispose();
  });
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'autograd-lab-'));
  const notebooks = fs.readdirSync(path.join(root, 'notebooks')).filter((f) => f.endsWith('.ipynb') && (only.length === 0 || only.some((o) => f.includes(o))));
  for (const f of notebooks) fs.copyFileSync(path.join(root, 'notebooks', f), path.join(work, f));
  writeStopNotebook(work);
  // a private Jupyter: our kernelspec, fresh settings (no windowing, so every cell is laid out)
  const prefix = path.join(work, '.jupyter-prefix');
  const install = spawnSync(kernel, ['install', '--prefix', prefix, '--core-path', path.join(root, 'autograd-core')], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`kernelspec install failed: ${install.stderr}`);
  const settings = path.join(work, '.lab-settings', '@jupyterlab', 'notebook-extension');
  fs.mkdirSync(settings, { recursive: true });
  fs.writeFileSync(path.join(settings, 'tracker.jupyterlab-settings'), JSON.stringify({ windowingMode: 'none' }));
  // no "get Jupyter news?" prompt over the screenshots (and no request to the internet)
  const notifications = path.join(work, '.lab-settings', '@jupyterlab', 'apputils-extension');
  fs.mkdirSync(notifications, { recursive: true });
  fs.writeFileSync(path.join(notifications, 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false' }));
  const port = await freePort();
  const token = `t${Math.random().toString(16).slice(2)}`;
  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
    JUPYTER_CONFIG_DIR: path.join(work, '.jupyter-config'),
    JUPYTER_DATA_DIR: path.join(work, '.jupyter-data'),
    JUPYTER_RUNTIME_DIR: path.join(work, '.jupyter-runtime'),
  };
  const lab = spawn(jupyter, [
    'lab', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--ServerApp.port_retries=0',
    `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${work}`,
    '--LabApp.expose_app_in_browser=True', `--LabApp.user_settings_dir=${path.join(work, '.lab-settings')}`,
    `--LabApp.workspaces_dir=${path.join(work, '.lab-workspaces')}`,
    ...(process.getuid && process.getuid() === 0 ? ['--allow-root'] : []),
  ], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const labLog = fs.createWriteStream(path.join(artifacts, 'jupyterlab.log'));
  lab.stdout.pipe(labLog);
  lab.stderr.pipe(labLog);
  const base = `http://127.0.0.1:${port}`;
  let browser;
  const failures = [];
  try {
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`${base}/api/status?token=${token}`);
        if (r.ok) break;
      } catch {}
      if (i > 120) throw new Error('JupyterLab did not start (see artifacts/jupyterlab.log)');
      await sleep(500);
    }
    // Debian's Chromium once crashed at start-up (SIGSEGV before any page opened) on a
    // loaded machine: one more try before the test fails
    for (let attempt = 1; ; attempt++) {
      try {
        browser = await chromium.launch({
          executablePath: browserPath,
          args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        });
        break;
      } catch (e) {
        if (attempt >= 2) throw e;
        console.error(`Chromium did not start (${String(e.message).split('\n')[0]}); trying once more`);
        await sleep(2000);
      }
    }
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    for (const name of notebooks) {
      const stem = name.replace(/\.ipynb$/, '');
      const expected = expectedOutputs(path.join(work, name));
      await page.goto(`${base}/lab/tree/${encodeURIComponent(name)}?reset&token=${token}`);
      await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.content && window.jupyterapp.shell.currentWidget.content.widgets.length > 0, null, { timeout: 120000 });
      await page.waitForTimeout(1500);
      // as saved: JupyterLab has not signed these outputs, so they are untrusted
      const trusted = await page.evaluate(() => {
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
        let any = false;
        for (let i = 0; i < cells.length; i++) any = any || cells.get(i).trusted;
        return any;
      });
      if (trusted) failures.push(`${stem}: expected the saved notebook to open untrusted`);
      const before = await measure(page);
      check(stem, 'untrusted, as saved', before, expected, failures);
      await checkSteppersStatic(page, stem, expected, failures);
      await screenshots(page, `${stem}-untrusted`);
      // run every cell with the kernel
      await page.waitForFunction(() => {
        const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
        return ctx && ctx.session && ctx.session.kernel && ctx.session.kernel.status === 'idle';
      }, null, { timeout: 180000 });
      const started = Date.now();
      await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
      await page.waitForFunction(() => {
        const panel = window.jupyterapp.shell.currentWidget;
        const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map((p) => p.textContent);
        const busy = prompts.some((p) => p.includes('*'));
        const unrun = prompts.some((p) => /\[ *\]/.test(p));
        return !busy && !unrun && panel.sessionContext.session.kernel.status === 'idle';
      }, null, { timeout: 480000, polling: 500 });
      await page.waitForTimeout(1000);
      const after = await measure(page);
      check(stem, 'after Run All', after, expected, failures);
      await screenshots(page, `${stem}-run`);
      await checkSteppersLive(page, stem, expected, failures);
      console.log(`${stem}: untrusted ${before.graphs.length} graphs / ${before.tensors.length} tensors; after Run All (${((Date.now() - started) / 1000).toFixed(1)} s) ${after.graphs.length} graphs / ${after.tensors.length} tensors; expected ${expected.graphs} / ${expected.tensors}`);
      // stop this notebook's kernel before the next one (each running kernel holds a build slot)
      await page.evaluate(async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.sessionContext.shutdown();
        panel.context.model.dirty = false;
        panel.dispose();
      });
    }
    if (only.length === 0 || only.some((o) => STOP_NOTEBOOK.includes(o))) await checkRunAllStops(page, base, token, failures);
  } finally {
    if (browser) await browser.close();
    lab.kill('SIGTERM');
    await sleep(1500);
  }
  if (failures.length) {
    console.error(`browser test FAILED:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`browser test passed: ${notebooks.length} notebooks; screenshots in ${artifacts}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
