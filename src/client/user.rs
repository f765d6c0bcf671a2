//! The signed-in user's requests: the token comes the way `getAuthToken()`
//! gets it, and a 401 forces one refresh and one retry.

use alloc::rc::Rc;
use alloc::string::String;

use super::refresh::failure_of;
use super::Client;
use crate::core::error::{Code, Error};
use crate::core::policy::{Failure, Next};
use crate::ports::{Json, Method, Ports};

/// The token, or `None` when the answer is `login_required`.
fn or_signed_out(result: Result<String, Error>) -> Result<Option<String>, Error> {
    match result {
        Ok(token) => Ok(Some(token)),
        Err(e) if e.code == Code::LoginRequired => Ok(None),
        Err(e) => Err(e),
    }
}

impl<P: Ports> Client<P> {
    /// The user of `GET /currentuser`, or `None` when signed out.
    pub async fn user_info(self: &Rc<Self>) -> Result<Option<P::Json>, Error> {
        let mut token = or_signed_out(self.get_auth_token().await)?;
        let mut retried = false;
        loop {
            let Some(bearer) = token else {
                return Ok(None);
            };
            let mut url = self.app_url(&self.session())?;
            url.push_str("/currentuser");
            let failure = match self.call(Method::Get, url, None, Some(bearer), false).await {
                Ok(reply) if (200..300).contains(&reply.status) => {
                    return match reply.body.and_then(|b| b.object("user")) {
                        Some(user) => Ok(Some(user)),
                        None => Err(Error::new(
                            Code::InvalidResponse,
                            "the currentuser reply has no user object",
                        )),
                    };
                }
                Ok(reply) => Failure::Status(reply.status, reply.retry_after),
                Err(e) => failure_of(e),
            };
            if matches!(failure, Failure::Status(401, _)) && !retried {
                retried = true;
                token = or_signed_out(self.refresh(true).await)?;
                continue;
            }
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
}
