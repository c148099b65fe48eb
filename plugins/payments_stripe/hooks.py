"""The payments_stripe plugin's hook implementations (its entry point)."""
