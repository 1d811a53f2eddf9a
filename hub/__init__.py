"""The wage-arrears supervision hub: canonical store, services, actors, app and CLI."""
