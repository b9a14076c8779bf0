"""One router per resource; `api.app` mounts them under /v1 (health and metrics at the root)."""
