"""Integration fixtures: a fresh, isolated database per test on the machine's real servers.

PostgreSQL: a unique schema, made the connection's ``search_path`` so unqualified tables land in
it, plus a sibling schema for schema-qualified names. MariaDB: a unique database plus a sibling
one. Everything is dropped after the test.

Servers come from ``CDP_TEST_POSTGRES_URL`` and ``CDP_TEST_MARIADB_URL`` (defaults: the servers every
development machine and CI run start). An unreachable server skips the test locally and fails it
when ``CI=true``, so CI can never go green without having run these tests.
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class IsolatedDatabase:
    """A database (or schema) that only the current test uses.

    Attributes:
        url: SQLAlchemy URL whose default schema/database is ``schema``.
        dialect: ``postgresql`` or ``mysql``.
        schema: The isolated schema (PostgreSQL) or database (MariaDB).
        other_schema: A second isolated schema/database, for schema-qualified table names.
    """

    url: sa.URL
    dialect: str
    schema: str
    other_schema: str

    def engine(self) -> sa.Engine:
        """A new engine on ``url``; dispose it when done so the cleanup's DROP is not blocked."""
        return sa.create_engine(self.url)


def _admin_engine(label: str, env_var: str, default: str) -> tuple[sa.Engine, sa.URL]:
    url = sa.make_url(os.environ.get(env_var, default))
    engine = sa.create_engine(url, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S})
    try:
        with engine.connect():
            return engine, url
    except sa.exc.OperationalError as exc:
        problem = type(exc.orig).__name__
    engine.dispose()
    reason = (
        f"{label} at {url.render_as_string(hide_password=True)} is unreachable ({problem}); "
        f"set {env_var} or start the server"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. CI=true, so integration tests must not be skipped", pytrace=False)
    pytest.skip(reason)


def _unique_name() -> str:
    return f"it_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_db() -> Iterator[IsolatedDatabase]:
    """A unique PostgreSQL schema (plus a sibling), dropped with everything in it afterwards."""
    admin, url = _admin_engine("PostgreSQL", "CDP_TEST_POSTGRES_URL", POSTGRES_URL)
    name = _unique_name()
    schemas = (name, f"{name}_x")
    try:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield IsolatedDatabase(
            url.update_query_dict({"options": f"-csearch_path={name}"}), "postgresql", *schemas
        )
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def mariadb_db() -> Iterator[IsolatedDatabase]:
    """A unique MariaDB database (plus a sibling), dropped afterwards."""
    admin, url = _admin_engine("MariaDB", "CDP_TEST_MARIADB_URL", MARIADB_URL)
    name = _unique_name()
    databases = (name, f"{name}_x")
    try:
        with admin.begin() as conn:
            for database in databases:
                conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
        yield IsolatedDatabase(url.set(database=name), "mysql", *databases)
    finally:
        with admin.begin() as conn:
            for database in databases:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
        admin.dispose()


@pytest.fixture(params=["postgres", "mariadb"], ids=["postgresql", "mariadb"])
def crm_db(request) -> IsolatedDatabase:
    """Each server in turn, as an isolated database."""
    return request.getfixturevalue(f"{request.param}_db")
