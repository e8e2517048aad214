"""What every door shares of HTTP, with no models: the error envelope as a response, the async
door decorator, bounded JSON bodies, server-sent events, the OpenAPI envelope, and Django's
middleware in async form. Doors import from here (or from the apps below them), never from
each other."""
