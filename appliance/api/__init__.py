"""The control API: JSON over HTTP on a Unix socket, and its Python client."""
