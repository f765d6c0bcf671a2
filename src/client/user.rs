//! The signed-in user's requests (passage-js's `PassageCurrentUser`): the
//! token comes the way `getAuthToken()` gets it (a stale one is refreshed
//! first, once, shared with concurrent callers), and a 401 forces one
//! refresh and one retry. With no session, nothing is sent.

use alloc::rc::Rc;
use alloc::string::String;

use serde::Deserialize;

use super::account::{
    apply, get, map, ChangeRequest, FinishRequest, Member, MetadataRequest, RenameRequest,
    StartRequest, CREATION_OPTIONS, CURRENT_USER, MAGIC_LINK, PASSKEY, SOCIAL_CONNECTIONS,
};
use super::refresh::failure_of;
use super::values::Field;
use super::{no_session, Client};
use crate::core::error::{Code, Error};
use crate::core::policy::{Failure, Next};
use crate::core::url::encode_component;
use crate::ports::{Json, Method, Ports, Reply};

/// The token, or `None` when the answer is `login_required`.
fn or_signed_out(result: Result<String, Error>) -> Result<Option<String>, Error> {
    match result {
        Ok(token) => Ok(Some(token)),
        Err(e) if e.code == Code::LoginRequired => Ok(None),
        Err(e) => Err(e),
    }
}

/// An error reply's own code (Passage's `{"error", "code"}`).
#[derive(Deserialize)]
struct ServerError {
    #[serde(default)]
    code: Field<String>,
}

fn unexpected() -> Error {
    Error::new(
        Code::InvalidResponse,
        "the auth server's reply is not what Passage sends",
    )
}

impl<P: Ports> Client<P> {
    /// `method` on `{app}/currentuser{path}`, the one request path of every
    /// account method: `account_body`, `account_member` and `account_ok`
    /// read its reply. `Ok(None)`: signed out, either before anything was
    /// sent or because the refresh token was refused.
    async fn account_request(
        self: &Rc<Self>,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Option<Reply<P::Json>>, Error> {
        let mut token = or_signed_out(self.get_auth_token().await)?;
        let mut retried = false;
        loop {
            let Some(bearer) = token else {
                return Ok(None);
            };
            let mut url = self.app_url(&self.session())?;
            url.push_str("/currentuser");
            url.push_str(path);
            let failure = match self
                .call(method, url, body.clone(), Some(bearer), false)
                .await
            {
                Ok(reply) if (200..300).contains(&reply.status) => return Ok(Some(reply)),
                Ok(reply) if reply.status == 401 && !retried => {
                    retried = true;
                    token = or_signed_out(self.refresh(true).await)?;
                    continue;
                }
                Ok(reply)
                    if (400..500).contains(&reply.status) && !matches!(reply.status, 401 | 429) =>
                {
                    let code =
                        reply
                            .body
                            .and_then(Json::decode::<ServerError>)
                            .and_then(|e| match e.code {
                                Field::Value(code) => Some(code),
                                _ => None,
                            });
                    return Err(Error::refused(reply.status, code));
                }
                Ok(reply) => Failure::Status(reply.status, reply.retry_after),
                Err(e) => failure_of(e),
            };
            // The failure as a last attempt would report it; what the policy
            // does not fail on is a refusal of a token just refreshed.
            return Err(match self.policy.after_failure(u32::MAX, failure, 0.0) {
                Next::Fail(e) => e,
                _ => Error::new(
                    Code::InvalidResponse,
                    "the auth server refused a freshly refreshed token",
                ),
            });
        }
    }

    /// As [`Client::account_request`], answering the reply's body; signed out is
    /// `login_required`.
    async fn account_body(
        self: &Rc<Self>,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<P::Json, Error> {
        let reply = self
            .account_request(method, path, body)
            .await?
            .ok_or_else(no_session)?;
        reply.body.ok_or_else(unexpected)
    }

    /// As [`Client::account_body`], answering member `key` of the reply as
    /// passage-js maps it (its `responseDataKey`).
    async fn account_member(
        self: &Rc<Self>,
        method: Method,
        path: &str,
        body: Option<String>,
        key: &str,
        member: Member,
    ) -> Result<P::Json, Error> {
        let reply = self.account_body(method, path, body).await?;
        get(&reply, key)
            .and_then(|value| apply(value, member))
            .ok_or_else(unexpected)
    }

    /// As [`Client::account_body`] for a reply with no body to read.
    async fn account_ok(self: &Rc<Self>, method: Method, path: &str) -> Result<(), Error> {
        self.account_request(method, path, None)
            .await?
            .ok_or_else(no_session)?;
        Ok(())
    }

    /// Runs one account request of the API edge; answers what its promise
    /// resolves: the mapped value, `true` for a deletion, nothing (the
    /// default, `undefined`) for `userInfo()` when signed out. One entry
    /// point, so every account method shares one future type.
    pub async fn account(self: Rc<Self>, op: AccountOp<P::Json>) -> Result<P::Json, Error> {
        let (method, path, body, key, member) = match op {
            AccountOp::UserInfo => return self.user_info().await,
            AccountOp::AddPasskey { attachment } => {
                return self.add_passkey(attachment.as_deref()).await
            }
            AccountOp::DeletePasskey { id, credential } => {
                self.account_ok(Method::Delete, &device_path(&id)).await?;
                if let Some(credential) = credential {
                    self.ports.forget_credential(&credential);
                }
                return Ok(P::Json::encode(&true).unwrap_or_default());
            }
            AccountOp::DeleteSocialConnection(kind) => {
                let mut path = String::from("/social-connections/");
                path.push_str(&encode_component(&kind));
                self.account_ok(Method::Delete, &path).await?;
                return Ok(P::Json::encode(&true).unwrap_or_default());
            }
            AccountOp::Change {
                phone,
                identifier,
                language,
            } => {
                let request = ChangeRequest {
                    language: language.as_deref(),
                    new_email: (!phone).then_some(identifier.as_str()),
                    new_phone: phone.then_some(identifier.as_str()),
                };
                let path = if phone { "/phone" } else { "/email" };
                let body = self.ports.to_json(&request);
                let link = Member::Object(&MAGIC_LINK);
                (Method::Patch, String::from(path), body, "magic_link", link)
            }
            AccountOp::Passkeys => {
                let list = Member::List(&PASSKEY);
                (Method::Get, String::from("/devices"), None, "devices", list)
            }
            AccountOp::EditPasskey { id, name } => {
                let body = self.ports.to_json(&RenameRequest {
                    friendly_name: &name,
                });
                let one = Member::Object(&PASSKEY);
                (Method::Patch, device_path(&id), body, "device", one)
            }
            AccountOp::SocialConnections => (
                Method::Get,
                String::from("/social-connections"),
                None,
                "social_connections",
                Member::Object(&SOCIAL_CONNECTIONS),
            ),
            AccountOp::Metadata => (
                Method::Get,
                String::from("/user-metadata"),
                None,
                "user_metadata",
                Member::Copy,
            ),
            AccountOp::UpdateMetadata(metadata) => {
                let body = self.ports.to_json(&MetadataRequest {
                    user_metadata: &metadata,
                });
                let user = Member::Object(&CURRENT_USER);
                (
                    Method::Patch,
                    String::from("/user-metadata"),
                    body,
                    "user",
                    user,
                )
            }
        };
        self.account_member(method, &path, body, key, member).await
    }

    /// The user of `GET /currentuser` (passage-js's `CurrentUser`), or
    /// nothing (`undefined`) when signed out.
    async fn user_info(self: &Rc<Self>) -> Result<P::Json, Error> {
        let Some(reply) = self.account_request(Method::Get, "", None).await? else {
            return Ok(P::Json::default());
        };
        reply
            .body
            .and_then(|body| get(&body, "user"))
            .filter(|user| !user.is_nullish())
            .and_then(|user| map(user, &CURRENT_USER))
            .ok_or(Error::new(
                Code::InvalidResponse,
                "the currentuser reply has no user object",
            ))
    }

    /// Registers a new passkey: the server's options, the browser's
    /// ceremony, the server's check of the attestation; remembered under
    /// `psg_cred_obj` as passage-js does.
    async fn add_passkey(
        self: &Rc<Self>,
        authenticator_attachment: Option<&str>,
    ) -> Result<P::Json, Error> {
        let start = StartRequest {
            authenticator_attachment: authenticator_attachment.unwrap_or("platform"),
        };
        let reply = self
            .account_body(Method::Post, "/devices/start", self.ports.to_json(&start))
            .await?;
        let handshake = get(&reply, "handshake").ok_or_else(unexpected)?;
        let options = get(&handshake, "challenge")
            .and_then(|challenge| get(&challenge, "publicKey"))
            .filter(|options| !options.is_nullish())
            .and_then(|options| map(options, &CREATION_OPTIONS))
            .ok_or_else(unexpected)?;
        let handshake_id = get(&handshake, "id").unwrap_or_default();
        // passage-js's `l.user?.id`.
        let user_id = get(&reply, "user").and_then(|user| get(&user, "id"));
        let credential = self.ports.create_credential(&options).await?;
        let finish = FinishRequest::new(&handshake_id, user_id.as_ref(), &credential);
        let body = self.ports.to_json(&finish);
        let device = self
            .account_member(
                Method::Post,
                "/devices/finish",
                body,
                "device",
                Member::Object(&PASSKEY),
            )
            .await?;
        if let Some(user_id) = user_id.and_then(|id| id.decode::<String>()) {
            self.ports.remember_credential(&user_id, &credential.id);
        }
        Ok(device)
    }
}

/// One account request of passage-js's `PassageCurrentUser`, its arguments
/// already read.
pub enum AccountOp<J> {
    /// `userInfo()`.
    UserInfo,
    /// `changeEmail()` or, with `phone`, `changePhone()`.
    Change {
        /// A phone number, not an email.
        phone: bool,
        /// The new address.
        identifier: String,
        /// The magic link's language.
        language: Option<String>,
    },
    /// `passkeys()`.
    Passkeys,
    /// `editPasskey()`.
    EditPasskey {
        /// The passkey's id.
        id: String,
        /// Its new name.
        name: String,
    },
    /// `addPasskey()`.
    AddPasskey {
        /// `authenticatorAttachment`, else "platform".
        attachment: Option<String>,
    },
    /// `deletePasskey()`.
    DeletePasskey {
        /// The passkey's id.
        id: String,
        /// Its credential id, forgotten in `psg_cred_obj`.
        credential: Option<String>,
    },
    /// `listSocialConnections()`.
    SocialConnections,
    /// `deleteSocialConnection()`, of this kind.
    DeleteSocialConnection(String),
    /// `metadata()`.
    Metadata,
    /// `updateMetadata()`, with these fields.
    UpdateMetadata(J),
}

fn device_path(id: &str) -> String {
    let mut path = String::from("/devices/");
    path.push_str(&encode_component(id));
    path
}
