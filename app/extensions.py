"""Extension singletons, bound to the app in create_app()."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.api import Api
from app.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
# Limits are named per view (login, registration, passwords); storage from RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)
