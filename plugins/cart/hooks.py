"""The cart plugin's hook implementations (its entry point)."""
