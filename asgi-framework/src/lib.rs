//! An ASGI framework (work in progress: see issue #5).
