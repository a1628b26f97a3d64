-- SQLite has no size limit on index rows; this version exists so both backends keep the
-- same migration list (PostgreSQL bounds its value-index keys here).
SELECT 1;
