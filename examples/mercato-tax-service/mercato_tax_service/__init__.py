"""Tax for Mercato from an external tax API: the worked example of a third-party tax
provider that replaces the built-in ``tax`` plugin (see README.md)."""
