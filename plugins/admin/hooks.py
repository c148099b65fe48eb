"""The admin plugin's hook implementations (its entry point)."""
