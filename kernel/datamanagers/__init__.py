"""Data managers that join non-transactional parts (Redis state, payment providers)
to the request's ``transaction``, so that they commit or abort with PostgreSQL."""
