-- Argo CD resource actions of a SalesforceConnection, and of a ClusterSalesforceConnection
-- (the same spec and annotation): renew asks the operator for a new token at once. It is
-- disabled while the connection is being deleted, and while it is suspended
-- (spec.suspend), when the operator renews nothing.
local deleting = type(obj.metadata) == "table" and obj.metadata.deletionTimestamp ~= nil
local suspended = type(obj.spec) == "table" and obj.spec.suspend == true
local actions = {}
actions["renew"] = { disabled = deleting or suspended }
return actions
