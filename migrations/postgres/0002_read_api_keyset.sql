-- The ops read API lists newest first by (received_at, id) and pages with a
-- keyset on that pair: an index with id as its last column serves both the
-- order and the "strictly after the cursor" condition, with no sort step.
-- It covers every query the (tenant, received_at) index served, which it replaces.
CREATE INDEX reports_tenant_received_id ON reports (tenant, received_at, id);
DROP INDEX reports_tenant_received;
