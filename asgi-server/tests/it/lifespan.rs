//! Lifespan: startup before serving, failure stops the server, state reaches requests.
