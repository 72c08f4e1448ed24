//! `multipart/form-data` bodies: the streaming [`Multipart`] extractor and the collected [`MultipartForm`].

use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::params::from_pairs;
use super::validation::ValidationError;
use super::{FromRequest, ParamInfo, ParamLocation};
use crate::error::HttpError;
use crate::request::{BodyError, Request};
use crate::response::{IntoResponse, Response};

const FORM_DATA: &str = "multipart/form-data";

/// Size limits for multipart bodies, in bytes.
///
/// Register one as application state (`Application::state(MultipartLimits::new()...)`)
/// to apply it to every [`Multipart`] and [`MultipartForm`]; beyond a limit
/// the request gets 413. Without one, only the body limit of the route or
/// application applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MultipartLimits {
    whole: Option<u64>,
    per_field: Option<u64>,
}

impl MultipartLimits {
    /// No limits beyond the body limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most bytes the whole body may have.
    #[must_use]
    pub fn whole(mut self, bytes: u64) -> Self {
        self.whole = Some(bytes);
        self
    }

    /// The most bytes any one field (or file) may have.
    #[must_use]
    pub fn per_field(mut self, bytes: u64) -> Self {
        self.per_field = Some(bytes);
        self
    }
}

/// Why a multipart body was refused.
#[derive(Debug)]
pub struct MultipartError {
    status: StatusCode,
    message: String,
}

impl MultipartError {
    /// The status of the response: 400, 413, 415 or 422.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<multer::Error> for MultipartError {
    fn from(error: multer::Error) -> Self {
        let status = match &error {
            multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            multer::Error::StreamReadFailed(cause) => match cause.downcast_ref::<BodyError>() {
                Some(body) => HttpError::from(body.clone()).status,
                None => StatusCode::BAD_REQUEST,
            },
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, error.to_string())
    }
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MultipartError {}

impl IntoResponse for MultipartError {
    fn into_response(self) -> Response {
        HttpError::new(self.status)
            .with_detail(self.message)
            .into_response()
    }
}

/// A `multipart/form-data` body, read field by field as it arrives.
///
/// Nothing is buffered: each [`Field`] is read in chunks, so large uploads
/// can go straight to disk. Another content type gives 415, a missing or
/// malformed boundary or a truncated body 400, and a body or field beyond
/// the [`MultipartLimits`] 413. Read fields in order: a field must be
/// dropped before the next one is asked for.
///
/// # Example
///
/// ```
/// use asgi_framework::extract::{Multipart, MultipartError};
///
/// async fn upload(mut form: Multipart) -> Result<String, MultipartError> {
///     let mut total = 0;
///     while let Some(mut field) = form.next_field().await? {
///         while let Some(chunk) = field.chunk().await? {
///             total += chunk.len();
///         }
///     }
///     Ok(format!("{total} bytes"))
/// }
/// ```
pub struct Multipart {
    inner: multer::Multipart<'static>,
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart").finish_non_exhaustive()
    }
}

impl Multipart {
    /// The next field, or `None` after the last.
    ///
    /// # Errors
    ///
    /// A [`MultipartError`] for a malformed or oversized body.
    pub async fn next_field(&mut self) -> Result<Option<Field>, MultipartError> {
        Ok(self.inner.next_field().await?.map(|inner| Field { inner }))
    }
}

impl FromRequest for Multipart {
    type Rejection = MultipartError;

    async fn from_request(mut request: Request) -> Result<Self, MultipartError> {
        if request.content_type().as_deref() != Some(FORM_DATA) {
            return Err(MultipartError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected multipart/form-data",
            ));
        }
        let content_type = request.header("content-type").unwrap_or_default();
        let boundary = multer::parse_boundary(content_type)?;
        let limits = request
            .app_state::<MultipartLimits>()
            .map(|limits| *limits)
            .unwrap_or_default();
        let mut size = multer::SizeLimit::new();
        if let Some(whole) = limits.whole {
            size = size.whole_stream(whole);
        }
        if let Some(per_field) = limits.per_field {
            size = size.per_field(per_field);
        }
        let constraints = multer::Constraints::new().size_limit(size);
        let inner = multer::Multipart::with_constraints(request.stream(), boundary, constraints);
        Ok(Self { inner })
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(ParamLocation::Body, None, "Multipart").with_content_type(FORM_DATA)]
    }
}

/// One field of a [`Multipart`] body: a form value or a file.
pub struct Field {
    inner: multer::Field<'static>,
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name())
            .field("file_name", &self.file_name())
            .finish_non_exhaustive()
    }
}

impl Field {
    /// The form field's name.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// The uploaded file's name, for file fields.
    pub fn file_name(&self) -> Option<&str> {
        self.inner.file_name()
    }

    /// The part's `Content-Type`, if given.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type().map(|mime| mime.essence_str())
    }

    /// The part's headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.inner.headers()
    }

    /// The next chunk of the field's content, or `None` at its end.
    ///
    /// # Errors
    ///
    /// A [`MultipartError`] for a malformed or oversized body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        Ok(self.inner.chunk().await?)
    }

    /// The whole content of the field.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk).
    pub async fn bytes(self) -> Result<Bytes, MultipartError> {
        Ok(self.inner.bytes().await?)
    }

    /// The content as UTF-8 text.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk), and 400 for text that is not UTF-8.
    pub async fn text(self) -> Result<String, MultipartError> {
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.into()).map_err(|_| {
            MultipartError::new(StatusCode::BAD_REQUEST, "form field is not valid UTF-8")
        })
    }
}

/// An uploaded file, held in memory by [`MultipartForm`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadFile {
    /// The form field's name.
    pub field: String,
    /// The file name the client gave.
    pub file_name: String,
    /// The part's `Content-Type`, if given.
    pub content_type: Option<String>,
    /// The content.
    pub data: Bytes,
}

/// A whole `multipart/form-data` body, read into memory: text fields and files.
///
/// The collected counterpart of [`Multipart`] for small forms, as
/// Starlette's `request.form()`: fields without a file name are text
/// values (deserialize them into a struct with
/// [`deserialize`](Self::deserialize), as `Form<T>` does for urlencoded
/// bodies), the others are [`UploadFile`]s. Limits and errors are those of
/// [`Multipart`]; set [`MultipartLimits`] to bound the memory it may take.
///
/// # Example
///
/// ```
/// use asgi_framework::extract::{MultipartError, MultipartForm};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Meta { title: String }
///
/// async fn upload(form: MultipartForm) -> Result<String, asgi_framework::Rejection> {
///     let meta: Meta = form.deserialize()?;
///     let sizes: Vec<usize> = form.files().iter().map(|f| f.data.len()).collect();
///     Ok(format!("{}: {sizes:?}", meta.title))
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipartForm {
    fields: Vec<(String, String)>,
    files: Vec<UploadFile>,
}

impl MultipartForm {
    /// The text fields, in order, repeated names kept.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The first value of text field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The uploaded files, in order.
    pub fn files(&self) -> &[UploadFile] {
        &self.files
    }

    /// The first file uploaded in field `name`.
    pub fn file(&self, name: &str) -> Option<&UploadFile> {
        self.files.iter().find(|f| f.field == name)
    }

    /// The text fields deserialized into `T`, with FastAPI-shaped errors (`loc: ["body", field]`).
    ///
    /// # Errors
    ///
    /// A 422 [`ValidationError`].
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ValidationError> {
        from_pairs(&self.fields, "body").map_err(ValidationError::from)
    }
}

impl FromRequest for MultipartForm {
    type Rejection = MultipartError;

    async fn from_request(request: Request) -> Result<Self, MultipartError> {
        let mut multipart = Multipart::from_request(request).await?;
        let mut form = MultipartForm::default();
        while let Some(field) = multipart.next_field().await? {
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let content_type = field.content_type().map(str::to_owned);
                    let data = field.bytes().await?;
                    form.files.push(UploadFile {
                        field: name,
                        file_name,
                        content_type,
                        data,
                    });
                }
                None => {
                    let value = field.text().await?;
                    form.fields.push((name, value));
                }
            }
        }
        Ok(form)
    }

    fn describe() -> Vec<ParamInfo> {
        vec![
            ParamInfo::new(ParamLocation::Body, None, "MultipartForm").with_content_type(FORM_DATA),
        ]
    }
}
