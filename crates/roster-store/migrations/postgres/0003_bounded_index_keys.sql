-- PostgreSQL refuses a B-tree row larger than about a third of a page, so an indexed value
-- of several kilobytes (a certificate, a long note) could not be stored. The value index
-- now keys on the first 200 characters; equality filters add the same prefix to their
-- condition so they still use it, and compare the full value for the exact answer.
DROP INDEX resource_values_str;
CREATE INDEX resource_values_str ON resource_values (tenant_id, path, left(str, 200));
