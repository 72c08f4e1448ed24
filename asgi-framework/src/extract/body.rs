//! Body extractors: [`Bytes`], [`String`] and the [`Request`] itself.

use std::convert::Infallible;

use bytes::Bytes;

use super::{FromRequest, ParamInfo, ParamLocation, Rejection};
use crate::request::{BodyError, Request};

impl FromRequest for Request {
    type Rejection = Infallible;

    async fn from_request(request: Request) -> Result<Self, Infallible> {
        Ok(request)
    }
}

impl FromRequest for Bytes {
    type Rejection = Rejection;

    async fn from_request(mut request: Request) -> Result<Self, Rejection> {
        Ok(request.body().await?)
    }

    fn describe() -> Vec<ParamInfo> {
        vec![
            ParamInfo::new(ParamLocation::Body, None, "Bytes")
                .with_content_type("application/octet-stream"),
        ]
    }
}

impl FromRequest for String {
    type Rejection = BodyError;

    async fn from_request(mut request: Request) -> Result<Self, BodyError> {
        request.text().await
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(ParamLocation::Body, None, "String").with_content_type("text/plain")]
    }
}
