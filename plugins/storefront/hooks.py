"""The storefront plugin's hook implementations (its entry point)."""
