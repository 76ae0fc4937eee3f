//! Test support shared by the end-to-end tests (`e2e/`) and the example workflows' tests: a real
//! SMTP server to send mail to and read it back.

pub mod smtp;
