//! Load generator and limit proxy for livedash; see src/bin/.
