"""Connector plugins: the plugin interface, the registry and the built-in connectors."""
