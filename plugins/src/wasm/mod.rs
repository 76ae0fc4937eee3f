//! WebAssembly plugin actions (wasmtime): the ABI of `plugins/README.md`, manifests and grants,
//! the sandbox (epoch deadline, memory limit, no ambient capabilities), loading and checking.

mod abi;
mod action;
mod guest;
mod host;
pub mod manifest;
mod registry;
mod state;

pub use action::{outcome, CallError, WasmAction};
pub use host::{LoadedPlugin, WasmHost, MAX_MEMORY_MB, TICK};
pub use registry::{load_dir, manifests_in, PluginSet};
pub use state::{KvStore, MemoryKv};
