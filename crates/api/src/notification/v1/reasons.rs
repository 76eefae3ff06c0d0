//! Condition reasons specific to notification-controller (`api/v1/condition_types.go`); the
//! generic ones are in [`crate::meta::reasons`].

/// The Receiver has been initialized.
pub const INITIALIZED: &str = "Initialized";
/// Part of the spec could not be validated.
pub const VALIDATION_FAILED: &str = "ValidationFailed";
/// The Receiver's token Secret could not be found.
pub const TOKEN_NOT_FOUND: &str = "TokenNotFound";
