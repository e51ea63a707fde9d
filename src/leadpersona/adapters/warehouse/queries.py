"""Example analyst queries on the warehouse, as the demo shows them."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine, text

__all__ = ["EXAMPLES", "ExampleQuery", "QueryResult", "run_examples"]


class ExampleQuery(BaseModel):
    title: str
    sql: str


class QueryResult(BaseModel):
    title: str
    sql: str
    columns: list[str]
    rows: list[list[object]]


EXAMPLES = (
    ExampleQuery(
        title="Skills most common among leads of one academic field at startups",
        sql="""SELECT p.academic_field, s.name AS skill, COUNT(*) AS leads
FROM personas p
JOIN lead_skills ls ON ls.lead_id = p.lead_id
JOIN skills s ON s.skill_id = ls.skill_id
WHERE p.company_type = 'Startup' AND p.academic_field = 'computer science'
GROUP BY p.academic_field, s.name
ORDER BY leads DESC, skill
LIMIT 5""",
    ),
    ExampleQuery(
        title="Leads per company type: how many have an academic field and a current position",
        sql="""SELECT COALESCE(p.company_type, '(unknown)') AS company_type,
       COUNT(DISTINCT p.lead_id) AS leads,
       COUNT(DISTINCT CASE WHEN p.academic_field IS NOT NULL THEN p.lead_id END)
           AS with_academic_field,
       COUNT(DISTINCT cur.lead_id) AS with_current_position
FROM personas p
LEFT JOIN positions cur ON cur.lead_id = p.lead_id AND cur.is_current
GROUP BY COALESCE(p.company_type, '(unknown)')
ORDER BY leads DESC""",
    ),
)


def run_examples(engine: Engine) -> list[QueryResult]:
    """Every example query with its result."""
    results = []
    with engine.connect() as connection:
        for example in EXAMPLES:
            result = connection.execute(text(example.sql))
            results.append(
                QueryResult(
                    title=example.title,
                    sql=example.sql,
                    columns=list(result.keys()),
                    rows=[list(row) for row in result],
                )
            )
    return results
