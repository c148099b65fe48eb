"""The catalog plugin's hook implementations (its entry point)."""
