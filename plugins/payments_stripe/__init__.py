"""Stripe payments: PaymentIntents with manual capture, webhooks, refunds."""
