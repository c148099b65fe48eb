"""The suite's fixtures come from ``mercato.testing`` (also a pytest11 plugin for
plugin authors); only what is specific to this repository lives here."""
