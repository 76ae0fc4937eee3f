// The page is served by the engine at `/` with its assets under `/assets/`. File names carry no
// content hash: rust-embed tracks the files it embeds by name, so stable names make a rebuilt
// bundle reach the next release build of the binary.
export default {
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    rollupOptions: {
      output: { entryFileNames: "assets/app.js", chunkFileNames: "assets/[name].js", assetFileNames: "assets/[name][extname]" },
    },
  },
};
