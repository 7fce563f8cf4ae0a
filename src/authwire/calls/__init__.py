"""Web service providers, methods, the call path and its logs."""
