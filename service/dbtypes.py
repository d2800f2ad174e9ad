"""Column types that mean the same on MySQL/MariaDB and SQLite (shared by tables and migrations)."""

from __future__ import annotations

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary
from sqlalchemy.dialects import mysql

# MySQL DATETIME drops fractions unless asked: microseconds matter for leases and ordering.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# SQLite autoincrements only INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# BLOB is 64 KB on MySQL.
Blob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
MediumBlob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")
