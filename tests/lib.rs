//! End-to-end tests live in `e2e/`; they start the real `mikawaya` binary.
