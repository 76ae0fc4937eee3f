//! `email.send` on lettre: SMTP (plain, STARTTLS or TLS, pooled) or, in development, `.eml` files
//! in an outbox folder. Arguments: `to`, and either `template` (a folder of the templates
//! directory, rendered with `customer`, `event`, `run`, `steps` and the step's arguments as
//! `vars`) or `subject` + `text` (+ `html`); optional `from`, `reply_to`.
//!
//! Each message's Message-ID is derived from the step's idempotency key, so a resend after a crash
//! is recognisable. SMTP 4xx replies and connection problems are retryable; 5xx are permanent.

use super::templates::{MailTemplates, Rendered};
use crate::{required_str, Action, ActionContext, ActionError};
use async_trait::async_trait;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Where mail goes.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `smtp://host:port` (plain), `smtp://host?tls=required` (STARTTLS), `smtps://host` (TLS),
    /// with `user:password@` credentials; `None` writes `.eml` files to `outbox` instead.
    pub smtp_url: Option<String>,
    /// Folder for `.eml` files when no SMTP server is configured.
    pub outbox: PathBuf,
    /// Default sender.
    pub from: String,
    /// Per-message timeout.
    pub timeout: Duration,
    /// Folder of email templates.
    pub templates: PathBuf,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Sends one email per call.
pub struct EmailAction {
    transport: Transport,
    from: Mailbox,
    templates: MailTemplates,
}

impl EmailAction {
    /// Builds the transport; fails on a malformed SMTP URL or sender.
    pub fn new(config: &EmailConfig) -> Result<Self, String> {
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("bad SMTP URL: {e}"))?
                    .timeout(Some(config.timeout))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&config.outbox)
                    .map_err(|e| format!("cannot create {}: {e}", config.outbox.display()))?;
                Transport::File(AsyncFileTransport::new(&config.outbox))
            }
        };
        let from = config
            .from
            .parse()
            .map_err(|e| format!("bad sender `{}`: {e}", config.from))?;
        Ok(EmailAction {
            transport,
            from,
            templates: MailTemplates::new(&config.templates),
        })
    }
}

/// A Message-ID that is the same for every attempt of the same step of the same run.
pub fn message_id(idempotency_key: &str) -> String {
    let local: String = idempotency_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("<{local}@mikawaya>")
}

fn mailbox(input: &Value, field: &str) -> Result<Option<Mailbox>, ActionError> {
    match input.get(field).and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|e| ActionError::Permanent(format!("`{field}` is not an address: {s} ({e})"))),
    }
}

/// The subject and parts: from a template, or from the `subject`, `text` and `html` arguments.
fn content(
    input: &Value,
    ctx: &ActionContext,
    templates: &MailTemplates,
) -> Result<Rendered, ActionError> {
    if let Some(name) = input.get("template").and_then(Value::as_str) {
        let mut context = ctx.scope.clone();
        if let Some(obj) = context.as_object_mut() {
            obj.insert("vars".into(), input.clone());
        }
        return templates
            .render(name, &context)
            .map_err(ActionError::Permanent);
    }
    Ok(Rendered {
        subject: required_str(input, "subject")?.to_string(),
        text: input
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        html: input.get("html").and_then(Value::as_str).map(String::from),
    })
}

fn build(
    input: &Value,
    ctx: &ActionContext,
    default_from: &Mailbox,
    content: Rendered,
) -> Result<Message, ActionError> {
    let to = mailbox(input, "to")?
        .ok_or_else(|| ActionError::Permanent("missing text argument `to`".into()))?;
    let mut builder = Message::builder()
        .from(mailbox(input, "from")?.unwrap_or_else(|| default_from.clone()))
        .to(to)
        .subject(content.subject)
        .message_id(Some(message_id(&ctx.idempotency_key)));
    if let Some(reply) = mailbox(input, "reply_to")? {
        builder = builder.reply_to(reply);
    }
    if let Some(url) = &ctx.unsubscribe_url {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let message = match content.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(content.text, html)),
        None => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(content.text),
        ),
    };
    message.map_err(|e| ActionError::Permanent(format!("cannot build the message: {e}")))
}

#[async_trait]
impl Action for EmailAction {
    fn name(&self) -> &str {
        "email.send"
    }

    fn channel(&self) -> Option<&'static str> {
        Some("email")
    }

    fn uses_scope(&self) -> bool {
        true
    }

    fn input_schema(&self) -> Option<Value> {
        let text = |description: &str| json!({ "type": "string", "description": description });
        Some(json!({
            "type": "object",
            "description": "Sends an email: a template, or a subject and text.",
            "required": ["to"],
            "properties": {
                "to": text("Recipient address; usually `{{ customer.email }}`."),
                "template": text("A folder of the templates directory (subject, text and html in it)."),
                "subject": text("Subject line, when there is no template."),
                "text": text("Plain-text body, when there is no template; may hold `{{ expressions }}`."),
                "html": text("HTML body beside the text (optional)."),
                "from": text("Sender, instead of the server's `--email-from`."),
                "reply_to": text("Reply-To address."),
                "tag": text("A frequency-cap tag (`tag newsletter 2/30d`), e.g. `newsletter`."),
            },
        }))
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        let content = content(&input, ctx, &self.templates)?;
        let message = build(&input, ctx, &self.from, content)?;
        let id = message_id(&ctx.idempotency_key);
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    ActionError::Permanent(format!("SMTP refused: {e}"))
                } else {
                    ActionError::Retryable(format!("SMTP: {e}"))
                }
            })?,
            Transport::File(file) => file
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| ActionError::Retryable(format!("outbox: {e}")))?,
        }
        Ok(json!({ "message_id": id, "to": input.get("to") }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ActionContext {
        ActionContext {
            workflow: "cart-abandon".into(),
            version: 1,
            run_id: "run-1".into(),
            step_id: "2".into(),
            customer_id: Some("c1".into()),
            idempotency_key: "run-1:2".into(),
            attempt: 1,
            scope: json!({"customer": {"first_name": "Ada"}}),
            unsubscribe_url: Some("http://127.0.0.1:8080/unsubscribe/abc".into()),
            traceparent: None,
        }
    }

    fn outbox_action(dir: &std::path::Path) -> EmailAction {
        let config = EmailConfig {
            smtp_url: None,
            outbox: dir.into(),
            from: "shop@example.com".into(),
            timeout: Duration::from_secs(5),
            templates: dir.join("templates"),
        };
        EmailAction::new(&config).unwrap()
    }

    #[tokio::test]
    async fn writes_eml_with_stable_message_id_to_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let action = outbox_action(dir.path());
        let input = json!({"to": "ada@example.com", "subject": "Your cart", "text": "Use SAVE10"});
        let out = action.call(input, &ctx()).await.unwrap();
        assert_eq!(out["message_id"], "<run-1.2@mikawaya>");
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let eml = std::fs::read_to_string(file).unwrap();
        assert!(eml.contains("Message-ID: <run-1.2@mikawaya>"), "{eml}");
        assert!(
            eml.contains("List-Unsubscribe: <http://127.0.0.1:8080/unsubscribe/abc>"),
            "{eml}"
        );
        assert!(
            eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{eml}"
        );
        assert!(eml.contains("Use SAVE10"));
    }

    #[tokio::test]
    async fn renders_a_template_with_the_run_scope_and_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("templates/cart");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("subject.txt"), "For {{ customer.first_name }}").unwrap();
        std::fs::write(t.join("text.txt"), "Coupon {{ vars.coupon }}").unwrap();
        std::fs::write(
            t.join("html.html"),
            "<p>Coupon <b>{{ vars.coupon }}</b></p>",
        )
        .unwrap();
        let action = outbox_action(dir.path());
        let input = json!({"to": "ada@example.com", "template": "cart", "coupon": "SAVE10"});
        action.call(input, &ctx()).await.unwrap();
        let eml = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .find(|e| e.path().is_file())
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .unwrap();
        assert!(eml.contains("Subject: For Ada"), "{eml}");
        assert!(
            eml.contains("Coupon SAVE10") && eml.contains("<b>SAVE10</b>"),
            "{eml}"
        );
        let missing = json!({"to": "ada@example.com", "template": "cart"});
        let err = action.call(missing, &ctx()).await.unwrap_err();
        assert!(
            !err.is_retryable() && err.message().contains("undefined"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn bad_recipient_is_a_permanent_failure() {
        let dir = tempfile::tempdir().unwrap();
        let err = outbox_action(dir.path())
            .call(json!({"to": "not an address", "subject": "x"}), &ctx())
            .await
            .unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.message().contains("`to` is not an address"), "{err}");
    }
}
