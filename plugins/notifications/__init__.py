"""Notifications: transactional outbox delivered as email over SMTP."""
