"""Node types: the node-type API (`base`, `ports`, `registry`) and the built-in node types."""
