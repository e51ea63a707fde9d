"""The warehouse schema: Alembic owns it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadpersona.adapters.warehouse.engine import (
    current_revision,
    downgrade,
    head_revisions,
    make_engine,
    schema_differences,
    upgrade,
)
from leadpersona.adapters.warehouse.sales_load import ensure_partitions
from leadpersona.adapters.warehouse.tables import (
    Company,
    Education,
    Lead,
    Persona,
    Position,
    Skill,
)
from leadpersona.errors import WarehouseError
from tests.warehouse_support import warehouse_factory, warehouse_url

__all__ = ["warehouse_factory", "warehouse_url"]

TABLES = {
    "leads",
    "personas",
    "companies",
    "positions",
    "skills",
    "lead_skills",
    "educations",
    "sync_state",
    "dim_date",
    "dim_product",
    "dim_customer",
    "fact_sales",
    "sales_checkpoints",
    "sales_keys",
    "sales_loads",
    "sales_quarantine",
    "sales_monthly",
}
HEAD = "0006_persona_archive_id"


def test_upgrade_downgrade_upgrade_and_no_autogenerate_difference(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    try:
        assert upgrade(engine) == HEAD
        assert upgrade(engine) == HEAD  # idempotent
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.begin() as connection:
            ensure_partitions(connection, [20260115, 20260301])  # what a load makes
        assert schema_differences(engine) == []
        assert downgrade(engine, "0001_warehouse") == "0001_warehouse"
        assert not set(inspect(engine).get_table_names()) & {"fact_sales", "dim_customer"}
        assert downgrade(engine, "base") is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert upgrade(engine, "0001_warehouse") == "0001_warehouse"
        assert upgrade(engine) == HEAD
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_the_monthly_summary_migration_sums_the_sales_already_stored(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    try:
        upgrade(engine, "0002_sales_star")
        with engine.begin() as connection:
            ensure_partitions(connection, [20260115, 20260301])
            connection.execute(
                text(
                    "INSERT INTO fact_sales (order_id, line_no, date_id, product_key, "
                    "customer_key, quantity, unit_price, discount, amount, currency, status, "
                    "source) VALUES "
                    "('O1', 1, 20260115, 1, 7, 2, 10, 0, 20.00, 'EUR', 'completed', 'api'), "
                    "('O1', 2, 20260115, 1, 7, 1, 5.5, 0, 5.50, 'EUR', 'completed', 'api'), "
                    "('O2', 1, 20260116, 1, 7, 1, 9, 0, 9.00, 'EUR', 'refunded', 'api'), "
                    "('O3', 1, 20260301, 1, 7, 4, 1, 0, 4.00, 'USD', 'completed', 'api')"
                )
            )
        assert upgrade(engine) == HEAD
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT month, customer_key, currency, revenue, orders, lines, quantity "
                    "FROM sales_monthly ORDER BY month"
                )
            ).all()
        assert [
            (*row[:3], str(Decimal(str(row[3])).quantize(Decimal("0.01"))), *row[4:])
            for row in found
        ] == [
            (202601, 7, "EUR", "25.50", 1, 2, 3),
            (202603, 7, "USD", "4.00", 1, 1, 4),
        ]
    finally:
        engine.dispose()


def test_exactly_one_head(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    assert len(head_revisions()) == 1
    engine.dispose()


def test_relationships_and_delete_rules(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    upgrade(engine)
    try:
        with Session(engine) as session:
            acme = Company(company_id="c1", name="Acme", company_type="startup")
            python = Skill(skill_id="s1", name="Python")
            lead = Lead(lead_id="l1", email="Ada@x.com", email_key="ada@x.com", status=0)
            lead.persona = Persona(
                academic_field="computer science",
                company_type="startup",
                features={"academic_field": "computer science", "seniority": 3},
                updated_at=datetime(2026, 1, 2, tzinfo=UTC),
            )
            lead.positions = [
                Position(ordinal=0, company=acme, title="CTO", start_date=date(2020, 1, 1))
            ]
            lead.educations = [Education(ordinal=0, school_name="EPFL", start_year=2010)]
            lead.skills = [python]
            session.add(lead)
            session.commit()
            stored = session.get(Lead, "l1")
            assert stored is not None and stored.persona is not None
            assert stored.persona.features["seniority"] == 3
            assert stored.positions[0].company is not None
            assert stored.positions[0].company.name == "Acme"
            assert [s.name for s in stored.skills] == ["Python"]
            assert session.get(Skill, "s1").leads[0].lead_id == "l1"  # type: ignore[union-attr]
            with pytest.raises(IntegrityError):
                session.add(Skill(skill_id="s2", name="Python"))
                session.commit()
            session.rollback()
        with engine.begin() as connection:  # deleting a lead takes its rows with it
            connection.execute(text("DELETE FROM leads WHERE lead_id = 'l1'"))
        with Session(engine) as session:
            for table in (Persona, Position, Education):
                assert session.scalars(select(table)).all() == []
            assert session.execute(text("SELECT COUNT(*) FROM lead_skills")).scalar() == 0
            assert session.get(Company, "c1") is not None  # companies outlive their leads
    finally:
        engine.dispose()


def test_a_url_the_product_cannot_use_is_one_clear_error() -> None:
    with pytest.raises(WarehouseError, match="cannot use the warehouse URL"):
        make_engine("nosuchdialect://x/y")
    engine = make_engine("postgresql+psycopg://postgres:secret@127.0.0.1:1/none")
    with pytest.raises(WarehouseError) as caught:
        upgrade(engine)
    message = str(caught.value)
    assert "secret" not in message and "\n" not in message and "127.0.0.1:1" in message
