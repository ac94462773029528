//! HTTP's vocabulary, shared by the engine, the steps and the features: the request head
//! parsed, the response head written, dates, validators and ranges. Nothing here reads a
//! socket or knows a feature.

pub(crate) mod clock;
pub(crate) mod conditional;
pub(crate) mod range;
pub(crate) mod request;
pub(crate) mod response_head;
