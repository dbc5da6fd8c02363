import { defineConfig } from "vitest/config";

// The app's CSP allows scripts, styles and images only from the app itself, so the build must not
// inline anything: every asset becomes a file served by the shell.
export default defineConfig({
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "safari15",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
