"""Extension singletons, bound to the app in create_app()."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.api import Api
from app.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
