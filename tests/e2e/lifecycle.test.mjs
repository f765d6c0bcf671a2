// An instance's life: under Node (server-side rendering) it opens nothing
// that keeps the process alive, and in Chromium dispose() leaves no
// listener behind.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT, launchBrowser, openPage, startStatic, stopAll } from "./harness.mjs";

/** Runs `code` as an ES module under Node; resolves its output, or rejects if it has not exited on its own after `ms`. */
function runNode(code, ms = 20_000) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ["--expose-gc", "--input-type=module", "-e", code],
      { cwd: ROOT, timeout: ms, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error?.killed) reject(new Error(`the process did not exit within ${ms} ms: ${stdout}${stderr}`));
        else if (error) reject(new Error(`exit ${error.code}: ${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
    child.stdin?.end();
  });
}

describe("server-side rendering (Node)", () => {
  test("import, construct, call: login_required, and the process exits on its own", async () => {
    const out = await runNode(`
      const { PassageUser, PassageError } = await import(${JSON.stringify(join(ROOT, "pkg/index.js"))});
      const user = new PassageUser({ appId: "ssr-app" });
      const error = await user.getAuthToken().catch((e) => e);
      const guard = await user.authGuard();
      const info = await user.userInfo();
      console.log(JSON.stringify({ code: error.code, isPassageError: error instanceof PassageError, guard, info: info === undefined }));
    `);
    assert.deepEqual(out, { code: "login_required", isPassageError: true, guard: false, info: true });
  });

  test("10,000 instances, one per request: no handle stays open, the heap is reclaimed, and the process exits", async () => {
    const out = await runNode(`
      const { PassageUser } = await import(${JSON.stringify(join(ROOT, "pkg/index.js"))});
      const handles = () => process.getActiveResourcesInfo().filter((r) => r !== "TTYWRAP");
      globalThis.gc();
      const heapBefore = process.memoryUsage().heapUsed;
      for (let i = 0; i < 10_000; i++) {
        const user = new PassageUser({ appId: "ssr-app" });
        await user.getAuthToken().catch(() => {});
        if (i % 2) user.dispose();
      }
      // Let finalizers run, then collect again.
      for (let i = 0; i < 5; i++) {
        await new Promise((ok) => setTimeout(ok, 20));
        globalThis.gc();
      }
      const grown = process.memoryUsage().heapUsed - heapBefore;
      console.log(JSON.stringify({ handles: handles(), grownMB: grown / 1048576 }));
    `);
    assert.deepEqual(out.handles, []);
    assert.ok(out.grownMB < 5, `the heap grew ${out.grownMB.toFixed(1)} MB`);
  });
});

describe("dispose() in Chromium", () => {
  let env;
  before(async () => {
    env = { site: await startStatic(), browser: await launchBrowser() };
  });
  after(() => stopAll(env));

  test("1,000 instances constructed and disposed leave no listener and no heap growth", async () => {
    const context = await env.browser.newContext();
    const page = await openPage(context, env.site.url);
    const cdp = await context.newCDPSession(page);
    const listeners = async () => {
      const { result } = await cdp.send("Runtime.evaluate", { expression: "window" });
      const { listeners } = await cdp.send("DOMDebugger.getEventListeners", { objectId: result.objectId });
      return listeners.length;
    };
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return (await cdp.send("Runtime.getHeapUsage")).usedSize;
    };
    const churn = () =>
      page.evaluate(async () => {
        for (let i = 0; i < 1000; i++) {
          const user = new window.psg.PassageUser({ appId: "app1" });
          user.onAuthStateChange(() => {});
          await user.authGuard();
          user.dispose();
        }
      });
    const before = await listeners();
    // A first round warms up the page (compiled code, the wasm's heap).
    await churn();
    const heapBefore = await heap();
    await churn();
    const heapAfter = await heap();
    const after = await listeners();
    // One live instance adds its listeners, and dispose() removes them.
    const live = await page.evaluate(() => {
      window.kept = new window.psg.PassageUser({ appId: "app1" });
    });
    const withOne = await listeners();
    await page.evaluate(() => window.kept.dispose());
    const disposed = await listeners();
    assert.equal(live, undefined);
    assert.equal(after, before, `${after - before} listeners left behind`);
    assert.ok(withOne > before, "a live instance listens to the window");
    assert.equal(disposed, before);
    assert.ok(heapAfter - heapBefore < 512 * 1024, `the JS heap grew ${heapAfter - heapBefore} bytes over 1,000 instances`);
    assert.deepEqual(page.errors, []);
    await context.close();
  });
});
