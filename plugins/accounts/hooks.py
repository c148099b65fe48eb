"""The accounts plugin's hook implementations (its entry point)."""
