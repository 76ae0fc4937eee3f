// The page is served by the engine at `/` with its assets under `/assets/`.
export default {
  base: "/",
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true, sourcemap: false },
};
