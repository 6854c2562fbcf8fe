"""Every schema reads input through the project's field types (app/fields.py), so that a new endpoint is
born bounded: marshmallow's own Integer (any size, other scripts' digits), String (NUL, controls, blanks),
Decimal (rounds silently), Email, Float (NaN) and Date (year 9999 plus a term overflows) are refused here."""

import marshmallow as ma

import app.fields as ours
from app.api import Schema

PLAIN = (ma.fields.Integer, ma.fields.String, ma.fields.Decimal, ma.fields.Email, ma.fields.Float, ma.fields.Date)
OURS = (ours.Integer, ours.Text, ours.Decimal, ours.Date)


def all_schemas(base):
    for sub in base.__subclasses__():
        yield sub
        yield from all_schemas(sub)


def fields_of(schema_class):
    for name, field in schema_class._declared_fields.items():
        yield name, field
        inner = getattr(field, "inner", None) or getattr(field, "value_field", None)
        if inner is not None:
            yield f"{name}[]", inner


def plain_fields(schema_classes) -> list[str]:
    plain = []
    for schema_class in schema_classes:
        reads_input = not schema_class.__name__.endswith(("Out", "Page"))
        for name, field in fields_of(schema_class):
            if isinstance(field, PLAIN) and not isinstance(field, OURS):
                if reads_input or not isinstance(field, ma.fields.Float | ma.fields.Date):
                    plain.append(f"{schema_class.__name__}.{name}")
    return plain


def test_input_fields_are_the_projects_own(app):
    assert plain_fields(set(all_schemas(Schema))) == []


def test_the_check_sees_plain_fields():
    class ThingIn(ma.Schema):
        count = ma.fields.Integer()
        tags = ma.fields.List(ma.fields.String())
        rate = ma.fields.Float()

    class ThingOut(ma.Schema):
        score = ma.fields.Float()

    assert plain_fields([ThingIn, ThingOut]) == ["ThingIn.count", "ThingIn.tags[]", "ThingIn.rate"]
