"""The notifications plugin's hook implementations (its entry point)."""
