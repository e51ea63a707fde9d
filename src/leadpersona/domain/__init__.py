"""Domain: pure models and rules. Imports nothing from beanie, pymongo, httpx or sqlalchemy."""
