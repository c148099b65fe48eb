"""Operations, wired into the app as the ``ops`` plugin (its entry point)."""
