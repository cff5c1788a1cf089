-- Argo CD resource actions of a SalesforceConnection: renew asks the operator for a new
-- token at once. It is disabled while the connection is being deleted.
local deleting = type(obj.metadata) == "table" and obj.metadata.deletionTimestamp ~= nil
local actions = {}
actions["renew"] = { disabled = deleting }
return actions
