//! Chat notifiers: Slack, Discord, Rocket.Chat, Microsoft Teams and Google Chat, with Flux's
//! payloads (`slack.go`, `discord.go`, `rocket.go`, `teams.go`, `google_chat.go`). Metadata
//! fields are listed sorted by key (Flux iterates a Go map, so its order varies; sorted is one
//! of its orders).

use super::http::{HttpSender, InboundResponse};
use super::{NotifierError, NotifierSettings, parse_request_uri, post_json};
use crate::event::Event;
use serde::{Deserialize, Serialize};

/// The address of Slack's Web API method; its answers are validated by their JSON body.
pub const SLACK_POST_MESSAGE_URL: &str = "https://slack.com/api/chat.postMessage";

/// Slack's message payload (also Discord's, through its Slack-compatible endpoint).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlackPayload {
    /// Channel, empty for the webhook's default.
    pub channel: String,
    /// Name posted as.
    pub username: String,
    /// Icon URL (Flux never sets it).
    pub icon_url: String,
    /// Icon emoji (Flux never sets it).
    pub icon_emoji: String,
    /// Plain text (Flux never sets it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The one attachment carrying the event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<SlackAttachment>,
}

/// A Slack attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlackAttachment {
    /// Plain-text summary: `<author>: <first line>`.
    pub fallback: String,
    /// `good` or `danger`.
    pub color: String,
    /// `<kind>/<name>.<namespace>`.
    pub author_name: String,
    /// The message.
    pub text: String,
    /// Fields rendered as markdown.
    pub mrkdwn_in: Vec<String>,
    /// One field per metadata entry.
    pub fields: Vec<SlackField>,
}

/// A Slack attachment field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlackField {
    /// Metadata key.
    pub title: String,
    /// Metadata value.
    pub value: String,
    /// Always false.
    pub short: bool,
}

fn severity_color(event: &Event) -> &'static str {
    if event.is_error() { "danger" } else { "good" }
}

fn slack_fields(event: &Event) -> Vec<SlackField> {
    event
        .metadata
        .iter()
        .map(|(title, value)| SlackField {
            title: title.clone(),
            value: value.clone(),
            short: false,
        })
        .collect()
}

/// Flux's Slack payload for `event`.
pub fn slack_payload(event: &Event, username: &str, channel: &str) -> SlackPayload {
    let author = event.object_display_name();
    let first_line = event.message.split('\n').next().unwrap_or_default();
    SlackPayload {
        channel: channel.to_string(),
        username: if username.is_empty() {
            event.reporting_controller.clone()
        } else {
            username.to_string()
        },
        icon_url: String::new(),
        icon_emoji: String::new(),
        text: String::new(),
        attachments: vec![SlackAttachment {
            fallback: format!("{author}: {first_line}"),
            color: severity_color(event).to_string(),
            author_name: author,
            text: event.message.clone(),
            mrkdwn_in: vec!["text".to_string()],
            fields: slack_fields(event),
        }],
    }
}

/// Flux's Discord payload for `event`: Slack's, without fallback and channel.
pub fn discord_payload(event: &Event, username: &str) -> SlackPayload {
    let mut payload = slack_payload(event, username, "");
    for attachment in &mut payload.attachments {
        attachment.fallback = String::new();
    }
    payload
}

/// Flux's Rocket.Chat payload for `event`: Slack's attachment coloured `#0076D7` (`#FF0000`
/// for errors), without fallback, and with the username only when one is configured.
pub fn rocket_payload(event: &Event, username: &str, channel: &str) -> SlackPayload {
    let mut payload = slack_payload(event, username, channel);
    payload.username = username.to_string();
    for attachment in &mut payload.attachments {
        attachment.fallback = String::new();
        attachment.color = if event.is_error() {
            "#FF0000"
        } else {
            "#0076D7"
        }
        .to_string();
    }
    payload
}

/// Rocket.Chat notifier (incoming webhook).
#[derive(Debug)]
pub struct Rocket {
    url: String,
    username: String,
    channel: String,
    sender: HttpSender,
}

impl Rocket {
    /// A Rocket.Chat notifier.
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        parse_request_uri(&settings.url, "Rocket hook")?;
        Ok(Self {
            url: settings.url.clone(),
            username: settings.username.clone(),
            channel: settings.channel.clone(),
            sender,
        })
    }

    /// Posts the event.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let payload = rocket_payload(event, &self.username, &self.channel);
        post_json(&self.sender, &self.url, &payload, |request| request)
            .await?
            .require_success()
    }
}

/// Slack notifier.
#[derive(Debug)]
pub struct Slack {
    url: String,
    token: String,
    username: String,
    channel: String,
    sender: HttpSender,
}

impl Slack {
    /// A Slack notifier for the Provider's address (webhook or chat.postMessage).
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        parse_request_uri(&settings.url, "Slack hook")?;
        Ok(Self {
            url: settings.url.clone(),
            token: settings.token.clone(),
            username: settings.username.clone(),
            channel: settings.channel.clone(),
            sender,
        })
    }

    /// Posts the event.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let payload = slack_payload(event, &self.username, &self.channel);
        let response = post_json(&self.sender, &self.url, &payload, |request| {
            if self.token.is_empty() {
                request
            } else {
                request.header("Authorization", format!("Bearer {}", self.token))
            }
        })
        .await?;
        if self.url == SLACK_POST_MESSAGE_URL {
            validate_slack_api_response(&response)
        } else {
            response.require_success()
        }
    }
}

/// chat.postMessage always answers 200; success is `{"ok": true}` in the body.
pub fn validate_slack_api_response(response: &InboundResponse) -> Result<(), NotifierError> {
    #[derive(Deserialize)]
    struct SlackResponse {
        #[serde(default)]
        ok: bool,
        #[serde(default)]
        error: String,
    }
    let answer: SlackResponse = serde_json::from_slice(&response.body).map_err(|error| {
        NotifierError::Rejected(format!("unable to unmarshal response body: {error}"))
    })?;
    if answer.ok {
        Ok(())
    } else {
        Err(NotifierError::Rejected(format!(
            "Slack responded with error: {}",
            answer.error
        )))
    }
}

/// Discord notifier (posts to the webhook's `/slack` endpoint).
#[derive(Debug)]
pub struct Discord {
    url: String,
    username: String,
    sender: HttpSender,
}

impl Discord {
    /// A Discord notifier; `/slack` is appended to the webhook URL unless present.
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        let mut url = parse_request_uri(&settings.url, "Discord hook")?;
        let address = if settings.url.ends_with("/slack") {
            settings.url.clone()
        } else {
            let path = format!("{}/slack", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url.to_string()
        };
        Ok(Self {
            url: address,
            username: settings.username.clone(),
            sender,
        })
    }

    /// The address posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Posts the event.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let payload = discord_payload(event, &self.username);
        post_json(&self.sender, &self.url, &payload, |request| request)
            .await?
            .require_success()
    }
}

/// Which Teams format a webhook URL takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamsSchema {
    /// Legacy Office 365 connector (`*.webhook.office.com`): MessageCard.
    MessageCard,
    /// Power Automate workflow: Adaptive Card.
    AdaptiveCard,
}

impl TeamsSchema {
    /// Flux's choice: MessageCard when the host ends with `.webhook.office.com`, else an
    /// Adaptive Card.
    pub fn for_url(url: &reqwest::Url) -> Self {
        if url
            .host_str()
            .is_some_and(|host| host.ends_with(".webhook.office.com"))
        {
            Self::MessageCard
        } else {
            Self::AdaptiveCard
        }
    }
}

/// The legacy Teams MessageCard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageCard {
    /// `MessageCard`.
    #[serde(rename = "@type")]
    pub card_type: String,
    /// `http://schema.org/extensions`.
    #[serde(rename = "@context")]
    pub context: String,
    /// `0076D7`, or `FF0000` for errors.
    #[serde(rename = "themeColor")]
    pub theme_color: String,
    /// The object name.
    pub summary: String,
    /// One section.
    pub sections: Vec<MessageCardSection>,
}

/// A MessageCard section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageCardSection {
    /// The message.
    #[serde(rename = "activityTitle")]
    pub activity_title: String,
    /// The object name.
    #[serde(rename = "activitySubtitle")]
    pub activity_subtitle: String,
    /// Metadata.
    pub facts: Vec<MessageCardFact>,
}

/// A MessageCard fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageCardFact {
    /// Key.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Flux's MessageCard for `event`.
pub fn teams_message_card(event: &Event) -> MessageCard {
    let name = event.object_display_name();
    MessageCard {
        card_type: "MessageCard".to_string(),
        context: "http://schema.org/extensions".to_string(),
        theme_color: if event.is_error() { "FF0000" } else { "0076D7" }.to_string(),
        summary: name.clone(),
        sections: vec![MessageCardSection {
            activity_title: event.message.clone(),
            activity_subtitle: name,
            facts: event
                .metadata
                .iter()
                .map(|(name, value)| MessageCardFact {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        }],
    }
}

/// A Teams message carrying an Adaptive Card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdaptiveCardMessage {
    /// `message`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// The card.
    pub attachments: Vec<AdaptiveCardAttachment>,
}

/// The attachment holding the card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdaptiveCardAttachment {
    /// `application/vnd.microsoft.card.adaptive`.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// The card.
    pub content: AdaptiveCard,
}

/// An Adaptive Card (schema 1.4, the newest Teams renders).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdaptiveCard {
    /// Schema URL.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// `AdaptiveCard`.
    #[serde(rename = "type")]
    pub card_type: String,
    /// `1.4`.
    pub version: String,
    /// One container.
    pub body: Vec<CardElement>,
    /// `{"width": "Full"}`.
    pub msteams: CardTeamsOptions,
}

/// Teams-specific card options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardTeamsOptions {
    /// `Full`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub width: String,
}

/// A card element: Container, TextBlock or FactSet (Go inlines the three shapes into one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CardElement {
    /// Element type.
    #[serde(rename = "type")]
    pub element_type: String,
    /// Container items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<CardElement>,
    /// TextBlock text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// TextBlock size.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub size: String,
    /// TextBlock weight.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub weight: String,
    /// TextBlock colour (`attention` for errors).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    /// TextBlock wrapping.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wrap: bool,
    /// FactSet facts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<CardFact>,
}

/// A FactSet fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardFact {
    /// Key.
    pub title: String,
    /// Value.
    pub value: String,
}

/// Flux's Adaptive Card message for `event`: title, message (in `attention` colour for
/// errors) and facts with `summary` first, the rest sorted by key.
pub fn teams_adaptive_card(event: &Event) -> AdaptiveCardMessage {
    let mut facts = Vec::with_capacity(event.metadata.len());
    if let Some(summary) = event.metadata.get("summary") {
        facts.push(CardFact {
            title: "summary".to_string(),
            value: summary.clone(),
        });
    }
    facts.extend(
        event
            .metadata
            .iter()
            .filter(|(key, _)| key.as_str() != "summary")
            .map(|(title, value)| CardFact {
                title: title.clone(),
                value: value.clone(),
            }),
    );
    let title = CardElement {
        element_type: "TextBlock".to_string(),
        text: event.object_display_name(),
        size: "large".to_string(),
        weight: "bolder".to_string(),
        wrap: true,
        ..CardElement::default()
    };
    let message = CardElement {
        element_type: "TextBlock".to_string(),
        text: event.message.clone(),
        color: if event.is_error() { "attention" } else { "" }.to_string(),
        wrap: true,
        ..CardElement::default()
    };
    let fact_set = CardElement {
        element_type: "FactSet".to_string(),
        facts,
        ..CardElement::default()
    };
    AdaptiveCardMessage {
        message_type: "message".to_string(),
        attachments: vec![AdaptiveCardAttachment {
            content_type: "application/vnd.microsoft.card.adaptive".to_string(),
            content: AdaptiveCard {
                schema: "http://adaptivecards.io/schemas/adaptive-card.json".to_string(),
                card_type: "AdaptiveCard".to_string(),
                version: "1.4".to_string(),
                body: vec![CardElement {
                    element_type: "Container".to_string(),
                    items: vec![title, message, fact_set],
                    ..CardElement::default()
                }],
                msteams: CardTeamsOptions {
                    width: "Full".to_string(),
                },
            },
        }],
    }
}

/// Microsoft Teams notifier.
#[derive(Debug)]
pub struct MsTeams {
    url: String,
    schema: TeamsSchema,
    sender: HttpSender,
}

impl MsTeams {
    /// A Teams notifier; the URL decides the card format.
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        let url = parse_request_uri(&settings.url, "MS Teams webhook")?;
        Ok(Self {
            url: settings.url.clone(),
            schema: TeamsSchema::for_url(&url),
            sender,
        })
    }

    /// The card format used.
    pub fn schema(&self) -> TeamsSchema {
        self.schema
    }

    /// Posts the event.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let response = match self.schema {
            TeamsSchema::MessageCard => {
                post_json(&self.sender, &self.url, &teams_message_card(event), |r| r).await?
            }
            TeamsSchema::AdaptiveCard => {
                post_json(&self.sender, &self.url, &teams_adaptive_card(event), |r| r).await?
            }
        };
        response.require_success()
    }
}

/// Google Chat's card message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatPayload {
    /// One card.
    pub cards: Vec<GoogleChatCard>,
}

/// A Google Chat card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatCard {
    /// Header.
    pub header: GoogleChatHeader,
    /// Message section, then a metadata section when there is metadata.
    pub sections: Vec<GoogleChatSection>,
}

/// A Google Chat card header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatHeader {
    /// Object name.
    pub title: String,
    /// Reporting controller.
    pub subtitle: String,
    /// Always null.
    #[serde(rename = "imageUrl")]
    pub image_url: Option<String>,
    /// Always null.
    #[serde(rename = "imageStyle")]
    pub image_style: Option<String>,
}

/// A Google Chat card section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatSection {
    /// Always empty.
    pub header: String,
    /// Widgets.
    pub widgets: Vec<GoogleChatWidget>,
}

/// A Google Chat widget: a text paragraph or a key/value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatWidget {
    /// Text paragraph.
    #[serde(rename = "textParagraph")]
    pub text_paragraph: Option<GoogleChatText>,
    /// Key/value.
    #[serde(rename = "keyValue")]
    pub key_value: Option<GoogleChatKeyValue>,
}

/// A Google Chat text paragraph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatText {
    /// Text (HTML subset).
    pub text: String,
}

/// A Google Chat key/value widget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoogleChatKeyValue {
    /// Key.
    #[serde(rename = "topLabel")]
    pub top_label: String,
    /// Value.
    pub content: String,
    /// Always false.
    #[serde(rename = "contentMultiline")]
    pub content_multiline: bool,
    /// Always null.
    #[serde(rename = "bottomLabel")]
    pub bottom_label: Option<String>,
    /// Always null.
    pub icon: Option<String>,
}

/// Flux's Google Chat payload for `event` (errors in red).
pub fn google_chat_payload(event: &Event) -> GoogleChatPayload {
    let text = if event.is_error() {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![GoogleChatSection {
        header: String::new(),
        widgets: vec![GoogleChatWidget {
            text_paragraph: Some(GoogleChatText { text }),
            key_value: None,
        }],
    }];
    if !event.metadata.is_empty() {
        sections.push(GoogleChatSection {
            header: String::new(),
            widgets: event
                .metadata
                .iter()
                .map(|(key, value)| GoogleChatWidget {
                    text_paragraph: None,
                    key_value: Some(GoogleChatKeyValue {
                        top_label: key.clone(),
                        content: value.clone(),
                        content_multiline: false,
                        bottom_label: None,
                        icon: None,
                    }),
                })
                .collect(),
        });
    }
    GoogleChatPayload {
        cards: vec![GoogleChatCard {
            header: GoogleChatHeader {
                title: event.object_display_name(),
                subtitle: event.reporting_controller.clone(),
                image_url: None,
                image_style: None,
            },
            sections,
        }],
    }
}

/// Google Chat notifier.
#[derive(Debug)]
pub struct GoogleChat {
    url: String,
    sender: HttpSender,
}

impl GoogleChat {
    /// A Google Chat notifier.
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        parse_request_uri(&settings.url, "Google Chat hook")?;
        Ok(Self {
            url: settings.url.clone(),
            sender,
        })
    }

    /// Posts the event.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        post_json(&self.sender, &self.url, &google_chat_payload(event), |r| r)
            .await?
            .require_success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go_json::to_vec;
    use crate::notifier::Transport;

    fn event(severity: &str) -> Event {
        let mut event: Event = serde_json::from_value(serde_json::json!({
            "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
                               "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
            "severity": severity,
            "timestamp": "2024-05-01T10:00:00Z",
            "message": "Deployment/default/web configured\nService/default/web created",
            "reason": "ReconciliationSucceeded",
            "reportingController": "kustomize-controller"
        }))
        .expect("event");
        event
            .metadata
            .insert("revision".into(), "main@sha1:1f2e3d".into());
        event.metadata.insert("summary".into(), "prod".into());
        event
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn slack_payload_is_a_coloured_attachment_with_metadata_fields() {
        let payload = to_vec(&slack_payload(&event("info"), "", "#ops")).expect("json");
        assert_eq!(
            text(payload),
            r##"{"channel":"#ops","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{"fallback":"kustomization/apps.flux-system: Deployment/default/web configured","color":"good","author_name":"kustomization/apps.flux-system","text":"Deployment/default/web configured\nService/default/web created","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:1f2e3d","short":false},{"title":"summary","value":"prod","short":false}]}]}"##
        );
        let error = slack_payload(&event("error"), "flux", "");
        assert_eq!(error.attachments[0].color, "danger");
        assert_eq!(error.username, "flux");
    }

    #[test]
    fn rocket_payload_uses_flux_blue_and_red() {
        let json = text(to_vec(&rocket_payload(&event("error"), "", "#ops")).expect("json"));
        assert!(
            json.starts_with(r##"{"channel":"#ops","username":"","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"#FF0000","author_name":"kustomization/apps.flux-system""##),
            "{json}"
        );
        assert_eq!(
            rocket_payload(&event("info"), "", "").attachments[0].color,
            "#0076D7"
        );
    }

    #[test]
    fn discord_payload_has_no_fallback_and_no_channel() {
        let payload = discord_payload(&event("info"), "");
        assert_eq!(payload.channel, "");
        assert_eq!(payload.attachments[0].fallback, "");
        let json = text(to_vec(&payload).expect("json"));
        assert!(json.contains(r#""fallback":"","color":"good""#), "{json}");
    }

    #[test]
    fn discord_webhooks_get_the_slack_suffix_once() {
        let sender = HttpSender::new(&Transport::default()).expect("sender");
        let settings = NotifierSettings {
            url: "https://discord.com/api/webhooks/1/abc".into(),
            ..NotifierSettings::default()
        };
        let discord = Discord::new(&settings, sender.clone()).expect("discord");
        assert_eq!(
            discord.url(),
            "https://discord.com/api/webhooks/1/abc/slack"
        );
        let settings = NotifierSettings {
            url: "https://discord.com/api/webhooks/1/abc/slack".into(),
            ..NotifierSettings::default()
        };
        let discord = Discord::new(&settings, sender).expect("discord");
        assert_eq!(
            discord.url(),
            "https://discord.com/api/webhooks/1/abc/slack"
        );
    }

    #[test]
    fn teams_legacy_connector_urls_get_a_message_card() {
        let url = |text: &str| reqwest::Url::parse(text).expect("url");
        assert_eq!(
            TeamsSchema::for_url(&url("https://xyz.webhook.office.com/webhookb2/abc")),
            TeamsSchema::MessageCard
        );
        assert_eq!(
            TeamsSchema::for_url(&url("https://xyz.webhook.office.com:443/webhookb2/abc")),
            TeamsSchema::MessageCard
        );
        assert_eq!(
            TeamsSchema::for_url(&url(
                "https://prod-1.westeurope.logic.azure.com:443/workflows/abc"
            )),
            TeamsSchema::AdaptiveCard
        );
        assert_eq!(
            TeamsSchema::for_url(&url("https://webhook.office.com/x")),
            TeamsSchema::AdaptiveCard
        );
    }

    #[test]
    fn teams_message_card_is_blue_or_red_with_facts() {
        let card = text(to_vec(&teams_message_card(&event("error"))).expect("json"));
        assert_eq!(
            card,
            r#"{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"FF0000","summary":"kustomization/apps.flux-system","sections":[{"activityTitle":"Deployment/default/web configured\nService/default/web created","activitySubtitle":"kustomization/apps.flux-system","facts":[{"name":"revision","value":"main@sha1:1f2e3d"},{"name":"summary","value":"prod"}]}]}"#
        );
        assert_eq!(teams_message_card(&event("info")).theme_color, "0076D7");
    }

    #[test]
    fn teams_adaptive_card_puts_summary_first_and_colours_errors() {
        let mut error = event("error");
        error.metadata.insert("alpha".into(), "first".into());
        let card = text(to_vec(&teams_adaptive_card(&error)).expect("json"));
        assert_eq!(
            card,
            r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"Container","items":[{"type":"TextBlock","text":"kustomization/apps.flux-system","size":"large","weight":"bolder","wrap":true},{"type":"TextBlock","text":"Deployment/default/web configured\nService/default/web created","color":"attention","wrap":true},{"type":"FactSet","facts":[{"title":"summary","value":"prod"},{"title":"alpha","value":"first"},{"title":"revision","value":"main@sha1:1f2e3d"}]}]}],"msteams":{"width":"Full"}}}]}"#
        );
        let mut plain = event("info");
        plain.metadata.clear();
        let card = text(to_vec(&teams_adaptive_card(&plain)).expect("json"));
        assert!(card.contains(r#"{"type":"FactSet"}"#), "{card}");
        assert!(!card.contains("attention"));
    }

    #[test]
    fn google_chat_card_has_message_and_metadata_sections() {
        let card = text(to_vec(&google_chat_payload(&event("error"))).expect("json"));
        assert_eq!(
            card,
            r##"{"cards":[{"header":{"title":"kustomization/apps.flux-system","subtitle":"kustomize-controller","imageUrl":null,"imageStyle":null},"sections":[{"header":"","widgets":[{"textParagraph":{"text":"\u003cfont color=\"#ff0000\"\u003eDeployment/default/web configured\nService/default/web created\u003c/font\u003e"},"keyValue":null}]},{"header":"","widgets":[{"textParagraph":null,"keyValue":{"topLabel":"revision","content":"main@sha1:1f2e3d","contentMultiline":false,"bottomLabel":null,"icon":null}},{"textParagraph":null,"keyValue":{"topLabel":"summary","content":"prod","contentMultiline":false,"bottomLabel":null,"icon":null}}]}]}]}"##
        );
    }

    #[test]
    fn slack_api_answers_are_checked_for_ok() {
        let answer = |body: &str| InboundResponse {
            status: http::StatusCode::OK,
            body: body.as_bytes().to_vec(),
        };
        assert!(validate_slack_api_response(&answer(r#"{"ok":true}"#)).is_ok());
        let error =
            validate_slack_api_response(&answer(r#"{"ok":false,"error":"not_in_channel"}"#))
                .expect_err("rejected");
        assert_eq!(
            error.to_string(),
            "Slack responded with error: not_in_channel"
        );
        assert!(validate_slack_api_response(&answer("<html>")).is_err());
    }
}
