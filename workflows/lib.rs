//! Example workflows live beside this file; see the tests in `tests/`.
