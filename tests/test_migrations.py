"""A fresh database upgraded to head has exactly the models' schema."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db

from .conftest import create_scratch_database


def test_upgrade_to_head_matches_the_models(tmp_path_factory):
    url, drop = create_scratch_database(tmp_path_factory, "ps_migrations")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                                 "compare_server_default": False})
                diff = compare_metadata(context, db.metadata)
            assert diff == [], diff
            downgrade(revision="base")
            remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert remaining == set()
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
