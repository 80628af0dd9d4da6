// Bundles the playground page's "tabs and offline" module (playground/app/tabs.ts) into
// playground/public/tabs.js. wrangler runs it before `wrangler dev` (see [build] in wrangler.toml).
import { build } from "esbuild";

await build({
  entryPoints: { tabs: "playground/app/tabs.ts" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  outdir: "playground/public",
  logLevel: "warning",
});
