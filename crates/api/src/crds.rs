//! CRDs (waiting for the kinds to land).
