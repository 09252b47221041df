//! End-to-end browser tests for livedash; see tests/.
